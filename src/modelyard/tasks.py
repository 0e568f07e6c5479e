"""Every domain's job kinds, registered by importing their ``tasks`` modules.

``modelyard serve`` (the app) and ``modelyard worker`` import this module; add one line per
domain that defines job kinds.
"""

import modelyard.deployments.tasks
import modelyard.drift.tasks
import modelyard.evaluations.tasks
import modelyard.imports.tasks
import modelyard.jobs.tasks
import modelyard.reports.tasks  # noqa: F401
