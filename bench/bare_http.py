"""The baseline of intake's HTTP figure: a bare FastAPI endpoint with the same request model
(`Submission`, validated the same way) and the same answer model, and nothing else — no
credential, no Kafka, no metrics, no logs. Served by uvicorn exactly as the services are."""

from __future__ import annotations

from fastapi import FastAPI, status

from contracts import Channel
from contracts.intake import Submission, complaint_id_for, received_event_id
from services.intake.routes import Accepted

app = FastAPI()


@app.post("/v1/complaints", status_code=status.HTTP_202_ACCEPTED, response_model=Accepted)
async def submit(submission: Submission) -> Accepted:
    """Validate and answer with the ids intake would give."""
    cid = complaint_id_for(Channel.HOTLINE, submission.submission_id)
    return Accepted(complaint_id=cid, event_id=received_event_id(cid))
