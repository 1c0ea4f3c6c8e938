"""The spec's predefined segments, stored as filters with relative dates and evaluated at use.

The spec's sketch computed "7 days ago" once at import and compared "inactive for 30 days" the
wrong way round (last contact *after* 30 days ago is the active ones). Here both dates are
``{"days_ago": n}``, turned into instants by each preview or start. What each one means:

- ``new_7d`` "Novos últimos 7 dias": contacts that entered the base in the last 7 days
  (``created_at``). The sketch filtered on the last contact, which picks anyone we talked to this
  week, however long known; "novos" names new doctors, the audience of a first contact.
- ``engaged`` "Médicos engajados": at least 5 interactions, and an interaction is a reply of the
  doctor's (our own messages would make every campaign target "engaged").
- ``inactive_30d`` "Inativos há 30 dias": no message either way for 30 days — ``last_contact_at``
  (ours or theirs) before 30 days ago, or never any, for a contact known for more than 30 days.
  A doctor written to yesterday is not inactive, nor is one imported yesterday.
- ``anesthesiologists_abc`` "Anestesistas do ABC": specialty Anestesiologia in region ABC.

Each is addressed as ``predefined:<key>`` wherever a segment id is accepted.
"""

from dataclasses import dataclass
from typing import Any

from disparo_campaign_api.segments.filters import Filter, parse_filter

PREFIX = "predefined:"


@dataclass(frozen=True)
class PredefinedSegment:
    key: str
    name: str
    description: str
    filter: dict[str, Any]

    @property
    def id(self) -> str:
        return f"{PREFIX}{self.key}"

    def parsed(self) -> Filter:
        return parse_filter(self.filter)


PREDEFINED: dict[str, PredefinedSegment] = {
    s.key: s
    for s in (
        PredefinedSegment(
            "new_7d",
            "Novos últimos 7 dias",
            "Contacts created in the last 7 days.",
            {"field": "created_at", "op": "after", "value": {"days_ago": 7}},
        ),
        PredefinedSegment(
            "engaged",
            "Médicos engajados",
            "Contacts who replied at least 5 times.",
            {"field": "interactions", "op": "gte", "value": 5},
        ),
        PredefinedSegment(
            "inactive_30d",
            "Inativos há 30 dias",
            "No message either way for 30 days (ours or theirs), or none ever for a contact"
            " known for more than 30 days.",
            {
                "any": [
                    {"field": "last_contact_at", "op": "before", "value": {"days_ago": 30}},
                    {
                        "all": [
                            {"field": "last_contact_at", "op": "exists", "value": False},
                            {"field": "created_at", "op": "before", "value": {"days_ago": 30}},
                        ]
                    },
                ]
            },
        ),
        PredefinedSegment(
            "anesthesiologists_abc",
            "Anestesistas do ABC",
            "Anesthesiologists in the ABC region (region written 'ABC' or 'abc').",
            {
                "all": [
                    {"field": "specialty", "op": "eq", "value": "Anestesiologia"},
                    {"field": "region", "op": "in", "value": ["ABC", "abc"]},
                ]
            },
        ),
    )
}


def find_predefined(segment_id: str) -> PredefinedSegment | None:
    """The predefined segment named by ``predefined:<key>``, or None."""
    if not segment_id.startswith(PREFIX):
        return None
    return PREDEFINED.get(segment_id[len(PREFIX) :])
