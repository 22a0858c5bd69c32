"""Second factors (issue 13): what a person enrolled (``factors``), where it is kept
(``enrolments``: a file per person in the state directory, or the shared store), and who must
use which (``policy``, from the tenant file)."""
