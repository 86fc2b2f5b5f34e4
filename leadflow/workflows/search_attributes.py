"""Custom search attributes ops filter leads by in the Temporal UI and CLI."""

from __future__ import annotations

from temporalio.common import SearchAttributeKey

LEAD_ACCOUNT = SearchAttributeKey.for_keyword("LeadAccount")
LEAD_STATUS = SearchAttributeKey.for_keyword("LeadStatus")
LEAD_MILESTONE = SearchAttributeKey.for_keyword("LeadMilestone")
LEAD_CAMPAIGNS = SearchAttributeKey.for_keyword_list("LeadCampaigns")
LEAD_NEXT_TOUCH = SearchAttributeKey.for_datetime("LeadNextTouch")
LEAD_LOAN_PURPOSE = SearchAttributeKey.for_keyword("LeadLoanPurpose")

ALL = (
    LEAD_ACCOUNT,
    LEAD_STATUS,
    LEAD_MILESTONE,
    LEAD_CAMPAIGNS,
    LEAD_NEXT_TOUCH,
    LEAD_LOAN_PURPOSE,
)


def cli_flags() -> list[str]:
    """`--search-attribute Name=Type` pairs for `temporal server start-dev`."""
    kinds = {
        "KEYWORD": "Keyword",
        "KEYWORD_LIST": "KeywordList",
        "DATETIME": "Datetime",
        "TEXT": "Text",
        "INT": "Int",
        "FLOAT": "Double",
        "BOOL": "Bool",
    }
    flags: list[str] = []
    for key in ALL:
        flags += ["--search-attribute", f"{key.name}={kinds[key.indexed_value_type.name]}"]
    return flags
