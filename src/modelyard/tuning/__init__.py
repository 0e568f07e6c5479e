"""Online tuning of deployed models: RLS with forgetting and Kalman filters on cost parameters.

Pure numpy: nothing here imports the application.
"""

from modelyard.tuning._estimators import RecursiveLeastSquares, ScalarKalman
from modelyard.tuning._tuner import GROUPS, OnlineTuner, TunerSettings

__all__ = ["GROUPS", "OnlineTuner", "RecursiveLeastSquares", "ScalarKalman", "TunerSettings"]
