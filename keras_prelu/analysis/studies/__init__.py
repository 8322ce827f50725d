"""The paper's findings at CPU scale (`keras-prelu reproduce`), one module per study.

- `initialization` (Fig. 3): He's against Xavier's initialization of the
  22-layer model B and the 30-layer model, ReLU;
- `activations` (Table 2): ReLU, LReLU, channel-shared and channel-wise PReLU
  on the 14-layer model, paired seeds, differences with confidence intervals;
- `slopes` (Table 1, Fig. 2): the learned slopes and mean responses of the
  models of `activations`.

Every run is `keras_prelu.training.fit` in a run folder under `runs_dir` (a
finished run is reused, an interrupted one resumed); each study returns a typed
result (dataclasses), writes it as `<study>.json` and draws its figures
(`plots`) in `out_dir`.
"""

import dataclasses

from keras_prelu.analysis.studies.activations import ActivationsResult
from keras_prelu.analysis.studies.activations import activation_study
from keras_prelu.analysis.studies.configs import DEFAULT_OUT_DIR
from keras_prelu.analysis.studies.configs import DEFAULT_RUNS_DIR
from keras_prelu.analysis.studies.configs import STUDIES
from keras_prelu.analysis.studies.configs import ActivationsConfig
from keras_prelu.analysis.studies.configs import InitConfig
from keras_prelu.analysis.studies.configs import Study
from keras_prelu.analysis.studies.initialization import InitResult
from keras_prelu.analysis.studies.initialization import init_study
from keras_prelu.analysis.studies.slopes import SlopesResult
from keras_prelu.analysis.studies.slopes import slope_study
from keras_prelu.errors import InvalidValueError
from keras_prelu.saving import atomic

__all__ = [
    "DEFAULT_OUT_DIR",
    "DEFAULT_RUNS_DIR",
    "STUDIES",
    "ActivationsConfig",
    "ActivationsResult",
    "InitConfig",
    "InitResult",
    "SlopesResult",
    "Study",
    "activation_study",
    "init_study",
    "reproduce",
    "slope_study",
]

_FUNCTIONS = {"init": init_study, "activations": activation_study, "slopes": slope_study}


def reproduce(study, *, out_dir=DEFAULT_OUT_DIR, runs_dir=DEFAULT_RUNS_DIR, verbose=0, **options):
    """Runs study `study` (a name of `STUDIES`, or "all": each in turn).

    Args:
        study: the study's name, or "all".
        out_dir: where the JSON and PNG files go.
        runs_dir: where the studies' runs go (and are reused from).
        verbose: `model.fit`'s verbosity for every run.
        **options: fields of the studies' configs (`InitConfig`,
            `ActivationsConfig`), e.g. `seeds=(0, 1)`, `epochs=3`; each is
            applied to the studies that have it, None is ignored.

    Returns:
        `{name: result}`.
    """
    if study != "all" and study not in STUDIES:
        raise InvalidValueError(
            f"Argument `study` must be one of {[*STUDIES, 'all']}. Received: study={study!r}"
        )
    atomic.check_writable_folder(out_dir, "out_dir")  # before hours of training
    atomic.check_writable_folder(runs_dir, "runs_dir")
    options = {name: value for name, value in options.items() if value is not None}
    known = {field.name for spec in STUDIES.values() for field in dataclasses.fields(spec.config)}
    unknown = sorted(set(options) - known)
    if unknown:
        raise InvalidValueError(
            f"Options {unknown} are not fields of any study's config; known: {sorted(known)}."
        )
    results = {}
    for name in STUDIES if study == "all" else (study,):
        spec = STUDIES[name]
        fields = {field.name for field in dataclasses.fields(spec.config)}
        config = spec.config(**{key: value for key, value in options.items() if key in fields})
        results[name] = _FUNCTIONS[name](
            config, out_dir=out_dir, runs_dir=runs_dir, verbose=verbose
        )
    return results
