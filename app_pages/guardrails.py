"""Guardrails: input and output checks around the model. Placeholder for now."""

from ui.placeholder import coming_soon

coming_soon(
    ":material/shield: Guardrails",
    "Try input and output rails (topic limits, PII masking, jailbreak and toxicity checks) on the model and see "
    "which rule fired and why.",
    ["A policy file you can edit", "Blocked and rewritten messages explained", "A log of every decision"],
)
