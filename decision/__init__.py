"""The policy engine: a pure ``decide(scores, features, policy) -> Verdict``.

No I/O and no models here: thresholds per category × region × language come from a
versioned YAML policy (``configs/policy.yaml``) loaded into typed models.
"""

from decision.engine import decide
from decision.errors import DecisionError, PolicyError
from decision.policy import CategoryPolicy, Policy, load_policy, parse_policy

__all__ = [
    "CategoryPolicy",
    "DecisionError",
    "Policy",
    "PolicyError",
    "decide",
    "load_policy",
    "parse_policy",
]
