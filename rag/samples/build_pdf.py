"""Regenerate eu_ai_act_gpai.pdf, the bundled sample PDF: ``python rag/samples/build_pdf.py``."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # run as a script from anywhere

from rag.pdf_writer import text_pdf  # noqa: E402

PAGES = [
    """The EU AI Act: obligations for general-purpose AI models

The Artificial Intelligence Act, Regulation (EU) 2024/1689, entered into force on 1 August 2024. Its rules apply in stages.

Timeline
- 2 February 2025: the prohibitions of unacceptable-risk AI practices and the AI literacy obligations apply.
- 2 August 2025: the obligations for providers of general-purpose AI (GPAI) models apply, together with the rules on governance and penalties.
- 2 August 2026: most of the remaining rules apply, including those for high-risk AI systems listed in Annex III.
- 2 August 2027: the rules for high-risk AI systems embedded in products covered by Annex I apply.

Providers of general-purpose AI models placed on the market before 2 August 2025 have until 2 August 2027 to comply.""",
    """What providers of general-purpose AI models must do

All providers must keep technical documentation of the model, give information to downstream providers who build on it, put in place a policy to comply with EU copyright law, and publish a sufficiently detailed summary of the content used for training.

Models with systemic risk
A general-purpose AI model is presumed to have systemic risk when the cumulative compute used for its training is greater than 10^25 floating-point operations (FLOPs). Providers of such models must also evaluate the model, assess and mitigate systemic risks, report serious incidents to the AI Office and ensure adequate cybersecurity.

The Code of Practice
The General-Purpose AI Code of Practice, a voluntary tool prepared by independent experts, was published by the European Commission on 10 July 2025. It has three chapters: transparency, copyright, and safety and security. Signing it is a way for providers to show that they comply with the AI Act.

Enforcement is handled by the AI Office within the European Commission. Fines for prohibited practices can reach 35 million euros or 7 percent of worldwide annual turnover.""",
]


def main() -> None:
    out = Path(__file__).with_name("eu_ai_act_gpai.pdf")
    out.write_bytes(text_pdf(PAGES, title="The EU AI Act: obligations for general-purpose AI models"))
    print(f"wrote {out} ({out.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
