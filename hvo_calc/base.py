"""The project's one pydantic base. Unknown keys are errors and values are frozen once made,
for every model (profiles, kernel data, plan files, requests, reports). Each model's
validator is built when the model is first used (`defer_build`), not when its module is
imported: a command pays only for the models it touches (start-up, issue 20).

A report model with a field renamed in a major schema version derives from `Renamed`: the
old name stays one major version as a deprecated read-only alias (a `computed_field` the
JSON carries) and is listed in `renamed`, so a report read back from JSON, of this version
or the one before, takes either name. Other models carry no such validator."""

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, model_validator


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class Renamed(Model):
    """A model that reads its fields' old names (`renamed`: old name -> new name)."""

    renamed: ClassVar[dict[str, str]] = {}

    @model_validator(mode="before")
    @classmethod
    def _read_renamed(cls, data: Any) -> Any:
        if not cls.renamed or not isinstance(data, dict):
            return data
        data = dict(data)
        for old, new in cls.renamed.items():
            if old in data:
                value = data.pop(old)
                if new in data and data[new] != value:
                    raise ValueError(f"{old} (the old name of {new}) is {value!r} and {new} is {data[new]!r}")
                data[new] = value
        return data
