"""How a campaign's codes would look before it is saved: examples, the number of possible codes,
and the advice generateCodes would give (CODE_SPACE_TOO_SMALL) for a planned count."""

from dataclasses import dataclass, field

from domain.campaigns import CodeConfigInput
from domain.campaigns.checks import ProblemList
from domain.campaigns.code_rules import validated_code_config
from domain.codegen import SPACE_SHARE, check_code_space, code_space, new_codes
from domain.errors import DomainError, Problem

EXAMPLES = 3


@dataclass(frozen=True)
class CodePreview:
    examples: list[str] = field(default_factory=list)
    # How many distinct codes the shape allows, and how many of them a campaign may use.
    space: int = 0
    most: int = 0
    # The CODE_SPACE_TOO_SMALL message for the planned count, "" when it fits.
    advice: str = ""
    problems: list[Problem] = field(default_factory=list)


def preview_codes(*, given: CodeConfigInput, planned: int | None = None) -> CodePreview:
    """The same checks createCampaign and generateCodes make, without storing anything."""
    problems = ProblemList()
    config = validated_code_config(given=given, current=None, problems=problems)
    if problems.items:
        return CodePreview(problems=list(problems.items))
    space = code_space(config)
    advice = ""
    if planned is not None and planned > 0:
        try:
            check_code_space(config, 0, planned)
        except DomainError as error:
            advice = error.problems[0].message
    return CodePreview(
        examples=new_codes(config, EXAMPLES), space=space, most=space // SPACE_SHARE, advice=advice
    )
