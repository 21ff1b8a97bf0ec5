"""Compare: the same prompt to two models (or two settings) side by side. Placeholder for now."""

from ui.placeholder import coming_soon

coming_soon(
    ":material/compare_arrows: Compare",
    "Send one prompt to two models, or one model with two settings, and watch both answers stream side by side.",
    [
        "Speed, tokens and memory of each side",
        "Vote for the better answer",
        "Blind mode: models revealed after the vote",
    ],
)
