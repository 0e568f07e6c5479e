"""Online predictions: ``POST /api/models/{ref}/predict`` in ``modelyard serve``, and
``modelyard serve-model REF``, a process that serves that endpoint for one model alone.
Every flavor goes through the one flavor interface (:mod:`modelyard.flavors`)."""
