"""The baseline env of the speed benchmarks: DualTickerTradingEnv's spaces and nothing else."""

import gymnasium as gym
import numpy as np

from ijules_core.env import OBS_SIZE
from ijules_core.execution import N_ACTIONS
from ijules_core.features import CLIP


class NullEnv(gym.Env):
    """Zeros, no reward, 1000-step episodes: what any env with these spaces costs at least."""

    observation_space = gym.spaces.Box(-CLIP, CLIP, shape=(OBS_SIZE,), dtype=np.float32)
    action_space = gym.spaces.Discrete(N_ACTIONS)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.zeros(OBS_SIZE, np.float32), {}

    def step(self, action):
        self.t += 1
        return np.zeros(OBS_SIZE, np.float32), 0.0, False, self.t >= 1000, {}
