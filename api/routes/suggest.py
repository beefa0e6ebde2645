"""The operator's answer suggestions."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from api.deps import ActorDep, RuntimeDep, SessionDep
from kb_service import suggestions

router = APIRouter(prefix="/api/v1", tags=["suggest"])


class SuggestBody(BaseModel):
    """What the caller said, where they are, how many results."""

    model_config = ConfigDict(extra="forbid")
    text: Annotated[str, Field(max_length=suggestions.MAX_QUERY_CHARS)]
    region: str | None = None
    k: Annotated[int, Field(ge=1, le=50)] = 5
    department: str | None = None
    category: str | None = None
    channel: str | None = None


@router.post("/suggest")
def suggest(
    body: SuggestBody, session: SessionDep, actor: ActorDep, runtime: RuntimeDep
) -> dict[str, Any]:
    """The best answer scripts and policy passages; `answerable` says whether to read one out."""
    return suggestions.suggest(
        session,
        search=runtime.search(),
        calibration=runtime.calibration,
        text=body.text,
        region=body.region,
        k=body.k,
        department=body.department,
        category=body.category,
        channel=body.channel,
        user_id=actor.user_id,
        default_review_days=runtime.settings.default_review_interval_days,
    )
