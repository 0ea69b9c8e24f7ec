"""Plumbing for the executable LLM course: profiles, data, models, environment, cache, plots, printing."""

from llmcourse.errors import CourseError
from llmcourse.profile import Profile, get_profile

__all__ = ["CourseError", "Profile", "get_profile"]
