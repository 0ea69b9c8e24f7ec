"""The one error type the course raises for problems a reader can fix."""


class CourseError(RuntimeError):
    """A problem with a known cause and fix, reported in one readable message."""
