"""One registration point per pluggable kind.

Every kind (strategy, server optimizer, local optimizer, LR schedule,
partitioner, data source, task, feature extractor, SE model, metric) is a
:class:`Registry` of ``name → (implementation, params model)``, both given as
``'module:attr'`` paths and imported only when used: validating a config never
imports torch, and a worker imports only what it runs.

A params model is a pydantic :class:`Params` subclass, in the implementation's
module when that module is light (numpy only) or in a sibling ``*_params.py``
when the implementation needs torch. It carries the kind's key (``name``, or
``source`` for data) so that the validated object alone says what to build. A
config field typed ``registry.type`` holds that object: it is validated once, on
the driver, and the object itself (not a dict) travels to the workers.

Adding an implementation is one file plus one line in the table below.
"""

from __future__ import annotations

import functools
import importlib
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializeAsAny,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WrapValidator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from raysim.validation_errors import UNKNOWN_KEY, unknown_key_message


class Params(BaseModel):
    """Base of every params model: unknown keys are errors, assignments are re-validated."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class Named(Params):
    """Params of an implementation chosen by ``name``."""

    name: str

    def for_rounds(self, rounds: int, key: str) -> Named:
        """These params in a run of `rounds` rounds, `key` being where they sit in the
        config (for messages): override to resolve what is given as a fraction of the run
        (`raysim.run_length`) and to warn where a schedule given in rounds does not fit
        it. By default: unchanged."""
        return self


@functools.cache  # resolved once per process: workers look up e.g. the optimizer per client
def load_attr(path: str) -> Any:
    """Import 'module:attr'."""
    module, attr = path.split(":")
    return getattr(importlib.import_module(module), attr)


def _with_hints(err: ValidationError, model: type[BaseModel]) -> ValidationError:
    """The same errors, unknown keys (type ``unknown_key``) with a 'did you mean' hint."""
    details: list[InitErrorDetails] = []
    for e in err.errors():
        kind, msg = e["type"], e["msg"]
        if kind == "extra_forbidden":
            kind, msg = UNKNOWN_KEY, unknown_key_message(model, e["loc"])
        error = PydanticCustomError(kind, "{msg}", {"msg": msg})
        details.append({"type": error, "loc": e["loc"], "input": e.get("input")})
    return ValidationError.from_exception_data(err.title, details)


class Registry:
    """The named implementations of one kind.

    Args:
        kind: what the entries are, for messages (``"strategy"``).
        entries: ``name → ('module:implementation', 'module:ParamsModel')``.
        key: the params field naming the entry (``name``; data sources: ``source``).
        default: the entry a config gets when it names none.
    """

    def __init__(
        self,
        kind: str,
        entries: dict[str, tuple[str, str]],
        *,
        key: str = "name",
        default: str | None = None,
    ):
        self.kind = kind
        self.key = key
        self.default_name = default
        self._entries = dict(entries)

    def add(self, name: str, impl: str, params: str) -> None:
        """Register (or replace) `name`: 'module:attr' paths of its implementation and
        params model. Workers resolve names through their own import of this module, so
        an entry added at run time must be added where the workers import it too."""
        self._entries[name] = (impl, params)

    def names(self) -> list[str]:
        return sorted(self._entries)

    def _entry(self, name: str) -> tuple[str, str]:
        if name not in self._entries:
            raise KeyError(f"unknown {self.kind} {name!r}; known: {', '.join(self.names())}")
        return self._entries[name]

    def params_model(self, name: str) -> type[Params]:
        """The params model of `name` (KeyError naming the known names)."""
        return load_attr(self._entry(name)[1])

    def impl(self, name: str) -> Any:
        """The implementation registered as `name`."""
        return load_attr(self._entry(name)[0])

    def parse(self, value: Params | dict[str, Any] | str | None = None) -> Params:
        """The typed params of `value`: a dict naming its entry by ``key``, a bare name
        (its defaults), or params already validated. Errors are pydantic errors located
        at the offending key."""
        if isinstance(value, Params):
            return value
        data = {self.key: value} if isinstance(value, str) else dict(value or {})
        name = data.get(self.key, self.default_name)
        if name not in self._entries:
            msg = f"unknown {self.kind} {name!r}; known: {', '.join(self.names())}"
            error = PydanticCustomError("unknown_name", "{msg}", {"msg": msg})
            raise ValidationError.from_exception_data(
                self.kind, [{"type": error, "loc": (self.key,), "input": name}]
            )
        model = self.params_model(name)
        try:
            return model.model_validate({**data, self.key: name})
        except ValidationError as err:
            raise _with_hints(err, model) from None

    def _validate(self, value: Any, handler: ValidatorFunctionWrapHandler) -> Params:
        return handler(self.parse(value))

    @property
    def type(self) -> Any:
        """The annotation of a config field holding this kind's typed params."""
        return SerializeAsAny[Annotated[Params, WrapValidator(self._validate)]]

    def field(self, default: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        """A pydantic Field defaulting to the params of `default` (or of the default entry)."""
        return Field(default_factory=lambda: self.parse(default), **kwargs)

    def build(self, params: Params, *args: Any, **kwargs: Any) -> Any:
        """Call the implementation `params` names with the params and `args`."""
        return self.impl(getattr(params, self.key))(params, *args, **kwargs)

    def make(self, value: dict[str, Any] | None, *args: Any, **kwargs: Any) -> Any:
        """``build(parse(value), *args)``: an implementation straight from plain values."""
        return self.build(self.parse(value), *args, **kwargs)


def _table(prefix: str, entries: dict[str, tuple[str, str]]) -> dict[str, tuple[str, str]]:
    """Expand ``'.mod:attr'`` (or ``':attr'``) paths relative to the module `prefix`."""

    def full(path: str) -> str:
        return prefix + path if path.startswith((".", ":")) else path

    return {name: (full(impl), full(params)) for name, (impl, params) in entries.items()}


# -- the tables ---------------------------------------------------------------------------
STRATEGIES = Registry(
    "strategy",
    _table(
        "raysim.engine.strategies",
        {
            "fedavg": (".fedavg:FedAvg", ".fedavg:Params"),
            "fedprox": (".fedprox:FedProx", ".fedprox:Params"),
            "scaffold": (".scaffold:Scaffold", ".scaffold:Params"),
            "fednova": (".fednova:FedNova", ".fednova:Params"),
        },
    ),
    default="fedavg",
)

SERVER_OPTIMIZERS = Registry(
    "server optimizer",
    _table(
        "raysim.engine.server_optimizers",
        {
            "none": (":ServerOptimizer", ":Params"),
            "avgm": (":FedAvgM", ":AvgMParams"),
            "adagrad": (":FedAdagrad", ":FedOptParams"),
            "adam": (":FedAdam", ":FedOptParams"),
            "yogi": (":FedYogi", ":FedOptParams"),
        },
    ),
    default="none",
)

LOCAL_OPTIMIZERS = Registry(
    "local optimizer",
    {
        name: (f"torch.optim:{cls}", "raysim.engine.local_optimizer:OptimizerParams")
        for name, cls in {
            "sgd": "SGD",
            "adam": "Adam",
            "adamw": "AdamW",
            "rmsprop": "RMSprop",
            "adagrad": "Adagrad",
        }.items()
    },
    default="sgd",
)

LR_SCHEDULES = Registry(
    "LR schedule",
    _table(
        "raysim.engine.lr_schedule",
        {
            "constant": (":constant", ":ConstantParams"),
            "step": (":step", ":StepParams"),
            "cosine": (":cosine", ":CosineParams"),
            "plateau": (":plateau", ":PlateauParams"),
        },
    ),
    default="constant",
)

PARTITIONERS = Registry(
    "partitioner",
    _table(
        "raysim.data.partition",
        {
            "iid": (":partition_iid", ":IIDParams"),
            "dirichlet": (":partition_dirichlet", ":DirichletParams"),
            "group": (":partition_by_group", ":GroupParams"),
            "quantity_skew": (":partition_quantity_skew", ":QuantitySkewParams"),
            "semi_fedser": (":partition_semi_fedser", ":SemiFedSERParams"),
        },
    ),
    default="dirichlet",
)

DATA_SOURCES = Registry(
    "data source",
    _table(
        "raysim.data",
        {
            "synthetic_features": (
                ".sources:synthetic_features",
                ".sources:SyntheticFeaturesParams",
            ),
            "npz": (".sources:npz", ".sources:NpzParams"),
            "feature_store": (
                ".feature_sources:feature_store",
                ".feature_sources:FeatureStoreParams",
            ),
            "procedural_ser": (
                ".feature_sources:procedural_ser",
                ".feature_sources:ProceduralSERParams",
            ),
            "se_mixtures": (".se_sources:se_mixtures", ".se_sources:SEMixturesParams"),
            "npz_w2": (".se_sources:npz_w2", ".se_sources:NpzW2Params"),
        },
    ),
    key="source",
    default="synthetic_features",
)

TASKS = Registry(
    "task",
    _table(
        "raysim.tasks",
        {
            "feature_classification": (
                ".classification:FeatureClassification",
                ".classification_params:ClassificationParams",
            ),
            "speech_enhancement": (".se:SpeechEnhancement", ".se_params:SEParams"),
            "semi_ser": (".semi_ser:SemiSER", ".semi_ser_params:SemiSERParams"),
        },
    ),
    default="feature_classification",
)

SE_MODELS = Registry(
    "SE model",
    _table(
        "raysim.se.models",
        {
            # params beside the SE task's: raysim.se's package imports torch
            "sudormrf": (".sudormrf:SuDORMRF", "raysim.tasks.se_model_params:SuDORMRFParams"),
            "convtasnet": (
                ".convtasnet:ConvTasNet",
                "raysim.tasks.se_model_params:ConvTasNetParams",
            ),
            "pulse_cnn": (".pulse_cnn:PulseCNN", "raysim.tasks.se_model_params:PulseCNNParams"),
        },
    ),
    default="sudormrf",
)

SE_METRICS = Registry(
    "SE metric",
    {
        name: (f"raysim.se.metrics:score_{name}", "raysim.registry:Named")
        for name in ("si_sdr", "si_sdri", "si_snr", "si_snri", "sdr", "pesq", "stoi")
    },
)

FEATURE_EXTRACTORS = Registry(
    "feature set",
    _table(
        "raysim.features",
        {
            "egemaps": (
                ".opensmile_features:OpenSmileExtractor",
                ".opensmile_features:EGeMAPSConfig",
            ),
            "compare": (
                ".opensmile_features:OpenSmileExtractor",
                ".opensmile_features:ComParEConfig",
            ),
            "emobase": (
                ".opensmile_features:OpenSmileExtractor",
                ".opensmile_features:EmobaseConfig",
            ),
            "logmel": (".logmel:LogMelExtractor", ".logmel:LogMelConfig"),
            "ssl": (".ssl:SSLExtractor", ".ssl:SSLConfig"),
            "openl3": (".openl3_features:OpenL3Extractor", ".openl3_features:OpenL3Config"),
        },
    ),
)
