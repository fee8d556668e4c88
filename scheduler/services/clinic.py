"""The clinic's operations on patients and sessions, as one object for the CLI, the API and the pages.

Each concept lives in its own module: enrolling (`enrolment`), changing a course (`course`),
correcting a record or a course (`edits`) and reading patients (`records`). Every operation is one
transaction that re-plans what it changes and names `actor` in the audit log.
"""

from __future__ import annotations

from scheduler.services.course import CourseChanges
from scheduler.services.edits import PatientEdits
from scheduler.services.enrolment import Enrolling
from scheduler.services.records import Records


class Clinic(Enrolling, CourseChanges, PatientEdits, Records):
    """Every operation staff can take."""
