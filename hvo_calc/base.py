"""The one pydantic base of the models at the edges: plan files, and the reports of inspect,
explain, compare and recommend (the plan report and what it is planned from are records,
`hvo_calc/record.py`, so that a plan runs without pydantic). Unknown keys are errors and
values are frozen once made. Each model's validator is built when the model is first used
(`defer_build`), not when its module is imported: a command pays only for the models it
touches (start-up, issue 20).

A report model with a field renamed in a major schema version derives from `Renamed`: the
old name stays one major version as a deprecated read-only alias (a `computed_field` the
JSON carries) and is listed in `renamed`, so a report read back from JSON, of this version
or the one before, takes either name, as a record's does."""

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, model_validator

from hvo_calc.record import read_renamed


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class Renamed(Model):
    """A model that reads its fields' old names (`renamed`: old name -> new name)."""

    renamed: ClassVar[dict[str, str]] = {}

    @model_validator(mode="before")
    @classmethod
    def _read_renamed(cls, data: Any) -> Any:
        return read_renamed(cls.renamed, data)
