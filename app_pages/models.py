"""Models: the registry, specs and memory estimates. Placeholder for now."""

from ui.placeholder import coming_soon

coming_soon(
    ":material/view_list: Models",
    "Browse the Qwen models the playground knows: sizes, context windows, licences, and how much memory each "
    "quantization needs on your machine.",
    [
        "Architecture specs from the published configs",
        "A memory calculator per quantization",
        "Which models work offline",
    ],
)
