"""Minutes-long checks with the real embedded model; run with `pytest -m slow`."""

from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]
GLUE = Path(__file__).resolve().parents[3] / "shared" / "data" / "glue"


def test_smollm2_learns_sst2(tmp_path):
    if not (GLUE / "sst2").exists():
        pytest.skip(f"{GLUE} not found")
    from adaptive_learner.bootstrap.config import load_config
    from adaptive_learner.bootstrap.containers import make_container

    cfg = load_config(
        "glue5",
        [
            "data.source='folder'",
            f"data.data_dir='{GLUE}'",
            "data.tasks=['sst2']",
            "data.validation_samples_per_task=300",
        ],
    )
    state = make_container(cfg, tmp_path).run_sequence()()
    assert state.accuracy[0, 0] >= 0.80, state.accuracy.rows()
    assert state.accuracy[0, 0] > state.accuracy.zero_shot[0]
