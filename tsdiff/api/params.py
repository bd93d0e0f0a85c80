"""Constructor arguments of the pandas models, the scikit-learn way.

Each model lists every argument in its ``__init__`` signature, with its default, and stores each one unchanged under
its own name (so ``get_params``, ``set_params``, ``sklearn.base.clone`` and the repr work); checks happen when the
model is built and again when ``set_params`` changes it. The deprecated names of tsdiff 0.1 are accepted for one
more release, with a FutureWarning, and nothing else is.
"""
from __future__ import annotations

import inspect
import warnings

from tsdiff.quiet import user_stacklevel

#: deprecated name → (new name, conversion of the old value)
RENAMED = {
    "num_steps": ("sampling_steps", None),
    "progress": ("verbose", lambda on: 1 if on else 0),
    "diffusion_steps": ("num_diffusion_steps", None),
    "channels": ("residual_channels", None),
    "layers": ("residual_layers", None),
}


def renamed_argument(kwargs: dict, old: str, new: str, value=None):
    """Pop the deprecated ``old`` from ``kwargs`` (with a FutureWarning) and return it as ``new``'s value."""
    if old not in kwargs:
        return value
    warnings.warn(f"'{old}' is deprecated and will be removed in tsdiff 0.3; use '{new}'", FutureWarning,
                  stacklevel=user_stacklevel())
    old_value = kwargs.pop(old)
    if value is not None:
        raise TypeError(f"got both '{old}' (deprecated) and '{new}'; pass '{new}' only")
    return old_value


def param_names(cls) -> list[str]:
    """The names of ``cls.__init__``'s arguments (what ``get_params`` returns), in signature order."""
    return [name for name, p in inspect.signature(cls.__init__).parameters.items()
            if name != "self" and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)]


def param_defaults(cls) -> dict:
    """``{name: default}`` of ``cls.__init__`` (arguments without a default are left out)."""
    return {name: p.default for name, p in inspect.signature(cls.__init__).parameters.items()
            if name != "self" and p.default is not inspect.Parameter.empty}


def store_init_arguments(model, arguments: dict) -> None:
    """Set every constructor argument as an attribute of ``model``, unchanged (``arguments``: the ``locals()`` of
    its ``__init__``; ``deprecated``: the old names given). An old name the model lists in ``DEPRECATED`` passes its
    value to the new name, with a FutureWarning; anything else in ``deprecated`` is a TypeError, as for any unknown
    keyword argument."""
    arguments = dict(arguments)
    deprecated = dict(arguments.pop("deprecated", None) or {})
    names = param_names(type(model))
    for old in list(deprecated):
        if old not in getattr(model, "DEPRECATED", ()) or RENAMED[old][0] not in names:
            raise TypeError(f"{type(model).__name__}.__init__() got an unexpected keyword argument {old!r}")
        new, convert = RENAMED[old]
        default = inspect.signature(type(model).__init__).parameters[new].default
        given = arguments[new] if arguments[new] is not default else None
        value = renamed_argument(deprecated, old, new, given)
        arguments[new] = convert(value) if convert is not None else value
    for name in names:
        setattr(model, name, arguments[name])


def upgrade_saved_params(params: dict) -> dict:
    """A model file's constructor arguments with old names replaced by the new ones, silently (the user did not
    write them: an older tsdiff saved them)."""
    params = dict(params)
    for old, (new, convert) in RENAMED.items():
        if old in params:
            value = params.pop(old)
            params.setdefault(new, convert(value) if convert is not None else value)
    return params
