"""The templates in use, as `reminders templates` lists them: each with a sample rendering, its
length in SMS segments, and the most it can take with the longest day, time and numbers."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from scheduler.domain.encoding import Encoding, encoding_of, segments
from scheduler.domain.states import Language
from scheduler.domain.templates import LIMITS, TextContext, Voice, render, widest_days
from scheduler.services.results import Result


class TemplateEntry(Result):
    language: Language
    name: str
    template: str
    own: bool = Field(description="The clinic's wording (TEMPLATES_FILE), not the built-in one.")
    sample: str = Field(description="Rendered for a sample session, with the clinic's settings.")
    segments: int = Field(description="Segments of the sample, in its encoding.")
    encoding: Encoding
    longest_segments: int = Field(description="Segments with the longest day, time and numbers.")
    limit: int = Field(description="The most segments the text may take alone.")


def template_entries(voice: Voice, languages: list[Language], sample: datetime) -> list[TemplateEntry]:
    """Every patient-facing template of `languages`, rendered for a session at `sample` (local)."""
    entries = []
    for language in languages:
        days = widest_days(language, voice.region)
        for name in voice.templates.names():
            text = render(name, TextContext(voice, sample, language=language))
            longest = max(segments(render(name, TextContext(voice, d, language=language))) for d in days)
            entries.append(
                TemplateEntry(
                    language=language,
                    name=name,
                    template=voice.templates.template(language, name),
                    own=f"[{language}] {name}" in voice.templates.replaced_names,
                    sample=text,
                    segments=segments(text),
                    encoding=encoding_of(text),
                    longest_segments=longest,
                    limit=LIMITS[language].alone,
                )
            )
    return entries
