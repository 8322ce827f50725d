"""Testing trained models the paper's ways: top-1/top-5 error over a whole split.

```python
from keras_prelu.evaluation import evaluate, results_table

result = evaluate("runs/model_14-digits", views="ten", scales=37)  # a run folder
model = "runs/model_14-digits/model.keras"  # a model, a .keras file, a run folder
ensemble = evaluate([model, "runs/model_14-digits"], "digits", scales=(32, 37))
print(results_table([result, ensemble]))
```
"""

from keras_prelu.evaluation.dense import DEFAULT_MAX_WINDOWS
from keras_prelu.evaluation.dense import DenseScorer
from keras_prelu.evaluation.evaluate import VIEWS
from keras_prelu.evaluation.evaluate import EvaluationResult
from keras_prelu.evaluation.evaluate import dense_scales
from keras_prelu.evaluation.evaluate import evaluate
from keras_prelu.evaluation.evaluate import results_table
from keras_prelu.evaluation.evaluate import top_k_error
from keras_prelu.evaluation.evaluate import write_results
from keras_prelu.evaluation.trained import Trained
from keras_prelu.evaluation.trained import load_trained
from keras_prelu.evaluation.trained import outputs_probabilities
from keras_prelu.evaluation.trained import with_probabilities

__all__ = [
    "DEFAULT_MAX_WINDOWS",
    "VIEWS",
    "DenseScorer",
    "EvaluationResult",
    "Trained",
    "dense_scales",
    "evaluate",
    "load_trained",
    "outputs_probabilities",
    "results_table",
    "top_k_error",
    "with_probabilities",
    "write_results",
]
