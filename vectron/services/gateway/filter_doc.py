"""The JSON schema of a payload filter, for the request models' ``filter`` fields.

The models here only describe the filter grammar (vectron.store.filters) in JSON schemas,
and so in ``/openapi.json``: requests keep the filter as plain JSON, which the store's
parser validates with messages naming the exact path of a bad condition.
"""

from __future__ import annotations

from typing import Annotated, Any, Union

from pydantic import BaseModel, ConfigDict, Field, GetJsonSchemaHandler, StrictBool, StrictInt, StrictStr

__all__ = ["Filter", "FilterT"]

#: a point id, as models.PointIdT (not imported: models imports this module)
_PointId = Annotated[StrictInt, Field(ge=0, lt=2**64)] | Annotated[StrictStr, Field(min_length=1, max_length=256)]

MatchScalar = StrictStr | StrictInt | StrictBool


class _Doc(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MatchValue(_Doc):
    value: MatchScalar


class MatchAny(_Doc):
    any: list[MatchScalar]


class RangeBounds(_Doc):
    gt: float | None = None
    gte: float | None = None
    lt: float | None = None
    lte: float | None = None


class MatchCondition(_Doc):
    key: str = Field(max_length=256, description="dotted payload path; lists met on the way are walked")
    match: MatchValue | MatchAny


class RangeCondition(_Doc):
    key: str = Field(max_length=256)
    range: RangeBounds


class KeyRef(_Doc):
    key: str = Field(max_length=256)


class HasIdCondition(_Doc):
    has_id: list[_PointId]


class IsEmptyCondition(_Doc):
    is_empty: KeyRef = Field(description="the key is missing, null or []")


class IsNullCondition(_Doc):
    is_null: KeyRef = Field(description="the key is present and null")


Condition = Union[MatchCondition, RangeCondition, HasIdCondition, IsEmptyCondition, IsNullCondition, "Filter"]
Clause = list[Condition] | Condition


class Filter(_Doc):
    """must: every condition holds; should: at least one (when not empty); must_not: none."""

    must: Clause | None = None
    should: Clause | None = None
    must_not: Clause | None = None


Filter.model_rebuild()


class _DocumentedAs:
    """Annotation: the field is validated as its own type, and documented as ``model``."""

    def __init__(self, model: type[BaseModel]) -> None:
        self.model = model

    def __get_pydantic_json_schema__(self, core_schema: Any, handler: GetJsonSchemaHandler) -> Any:
        return handler(self.model.__pydantic_core_schema__)


#: a request's filter: plain JSON here (vectron.store.filters checks it), documented as :class:`Filter`
FilterT = Annotated[dict[str, Any], _DocumentedAs(Filter)]
