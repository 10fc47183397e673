"""The project's one pydantic base. Unknown keys are errors and values are frozen once made,
for every model (profiles, kernel data, plan files, requests, reports). Each model's
validator is built when the model is first used (`defer_build`), not when its module is
imported: a command pays only for the models it touches (start-up, issue 20)."""

from pydantic import BaseModel, ConfigDict


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)
