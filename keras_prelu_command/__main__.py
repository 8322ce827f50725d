"""`python -m keras_prelu_command`: the `keras-prelu` command without its console script."""

import sys

from keras_prelu_command import main

sys.exit(main())
