"""ijules_core.training and ijules_core.evaluation without Dagster: data sets, training, gates."""

import math

import numpy as np
import pytest
import torch
from training_data import DAYS, SYMBOLS, bars, seed_bars

from ijules_core.evaluation import CHAMPION, MODEL, Evaluation, Gates, coefficient_of_variation, evaluate_candidate
from ijules_core.policy import SB3Policy
from ijules_core.store import connect
from ijules_core.training import (Dataset, TrainConfig, TrainingError, Window, build_dataset, build_model, learn,
                                  latest_session_with_bars)

WINDOW = Window(DAYS[-1], sessions=10, validation_sessions=2, oos_sessions=3)
TINY_RPPO = TrainConfig(timesteps=256, n_envs=2, n_steps=32, batch_size=64, lstm_hidden_size=16, episode_length=300,
                        device="cpu")


@pytest.fixture
def dataset(db_url) -> Dataset:
    seed_bars(db_url, bars())
    with connect(db_url) as conn:
        return build_dataset(conn, SYMBOLS, WINDOW)


def test_splits_follow_the_calendar_and_never_overlap(dataset):
    parts = {name: dataset.split(name) for name in ("train", "validation", "oos")}
    assert [len(p.days) for p in parts.values()] == [5, 2, 3]
    assert list(parts["train"].days + parts["validation"].days + parts["oos"].days) == DAYS
    assert parts["train"].ts[-1] < parts["validation"].ts[0] and parts["validation"].ts[-1] < parts["oos"].ts[0]
    assert sum(p.n_bars for p in parts.values()) == dataset.data.n_bars == 10 * 390
    assert parts["oos"].session.tolist()[0] == 0 and parts["oos"].session_bounds()[-1][1] == parts["oos"].n_bars


def test_the_hash_names_the_content_and_the_file_round_trips(db_url, dataset, tmp_path):
    path = dataset.save(tmp_path)
    assert path.name == f"{dataset.content_hash}.npz"
    loaded = Dataset.load(path)
    assert loaded.content_hash == dataset.content_hash and loaded.split_sizes == dataset.split_sizes
    assert np.array_equal(loaded.split("oos").features, dataset.split("oos").features)
    with connect(db_url) as conn:
        assert build_dataset(conn, SYMBOLS, WINDOW).content_hash == dataset.content_hash  # same bars, same hash
        changed = bars()
        changed.loc[changed.index[-1], "close"] += 0.01
        seed_bars(db_url, changed)
        assert build_dataset(conn, SYMBOLS, WINDOW).content_hash != dataset.content_hash
    moved = tmp_path / f"{'0' * 64}.npz"
    path.rename(moved)
    with pytest.raises(TrainingError, match="does not hash to its name"):
        Dataset.load(moved)


def test_a_window_too_short_to_split_is_refused():
    with pytest.raises(TrainingError, match="no training session"):
        Window(DAYS[-1], sessions=5, validation_sessions=2, oos_sessions=3)
    with pytest.raises(TrainingError, match="two daily returns"):
        Window(DAYS[-1], sessions=10, validation_sessions=2, oos_sessions=1)


def test_days_without_bars_are_named(db_url):
    with connect(db_url) as conn:
        with pytest.raises(TrainingError, match="has no bars for NVDA, MSFT"):
            latest_session_with_bars(conn, SYMBOLS)
        seed_bars(db_url, bars(DAYS[:4] + DAYS[5:]))
        assert latest_session_with_bars(conn, SYMBOLS) == DAYS[-1]
        with pytest.raises(TrainingError, match=rf"1 of 10 sessions .*\({DAYS[4]}\): ingest them first"):
            build_dataset(conn, SYMBOLS, WINDOW)


def test_a_day_qc_never_passed_is_refused_but_a_refused_reingestion_is_not(db_url):
    seed_bars(db_url, bars())
    with connect(db_url) as conn:
        insert = "INSERT INTO market_data.qc_reports (partition, symbol, outcome, metrics) VALUES (%s, '*', %s, '{}')"
        conn.execute(insert, (DAYS[2], "CONTINUE"))
        conn.execute(insert, (DAYS[2], "BLOCK"))  # a later batch was refused; the table kept the one that passed
        conn.execute(insert, (DAYS[6], "BLOCK"))
        conn.commit()
        with pytest.raises(TrainingError, match=rf"QC blocked {DAYS[6]} in the window"):
            build_dataset(conn, SYMBOLS, WINDOW)
        conn.execute("DELETE FROM market_data.qc_reports WHERE partition = %s", (DAYS[6],))
        conn.commit()
        assert build_dataset(conn, SYMBOLS, WINDOW).data.n_bars == 10 * 390


def _train_and_evaluate(dataset, config):
    model, _ = build_model(dataset.split("train"), config, seed=config.seed)
    learn(model, config.timesteps, torch_threads=config.torch_threads)
    return model, evaluate_candidate(dataset.split("oos"), SB3Policy(model)).metrics


def test_same_seed_and_data_on_cpu_give_the_same_evaluation(dataset):
    first_model, first = _train_and_evaluate(dataset, TINY_RPPO)
    _, second = _train_and_evaluate(dataset, TINY_RPPO)
    assert first == second
    assert first[MODEL]["trades"] > 0  # the model acts: the equality is not two idle books
    other_model, _ = _train_and_evaluate(dataset, TrainConfig(**{**TINY_RPPO.__dict__, "seed": 1}))
    assert not all(torch.equal(a, b) for a, b in zip(first_model.policy.parameters(), other_model.policy.parameters()))


def test_warm_start_takes_the_champions_weights_only_when_spaces_and_architecture_match(dataset):
    train = dataset.split("train")
    champion, _ = build_model(train, TINY_RPPO, seed=5)
    warm, refused = build_model(train, TINY_RPPO, seed=0, warm_start=champion)
    assert refused is None
    assert all(torch.equal(a, b) for a, b in zip(champion.policy.parameters(), warm.policy.parameters()))
    _, refused = build_model(train, TrainConfig(**{**TINY_RPPO.__dict__, "lstm_hidden_size": 8}), seed=0,
                             warm_start=champion)
    assert refused.startswith("champion's architecture differs")
    _, refused = build_model(train, TrainConfig(**{**TINY_RPPO.__dict__, "algorithm": "PPO"}), seed=0,
                             warm_start=champion)
    assert refused == "champion is RecurrentPPO, not PPO"


def test_a_non_finite_loss_stops_training_with_a_clear_error():
    from ijules_core.training import _forwarding_logger

    seen = []
    logger = _forwarding_logger(lambda step, figures: seen.append(figures))
    logger.record("train/loss", 0.5)
    logger.dump(64)
    logger.record("train/loss", math.nan)
    with pytest.raises(TrainingError, match="diverged at 128 timesteps: train/loss not finite"):
        logger.dump(128)
    assert seen == [{"train/loss": 0.5}]
    for bad in (math.nan, 0.0, -1e-3):
        with pytest.raises(TrainingError, match="learning_rate"):
            TrainConfig(learning_rate=bad)


def _evaluation(model, champion=None, seeds=()):
    metrics = {MODEL: {"sharpe": model}, "flat": {"sharpe": 0.0}}
    if champion is not None:
        metrics[CHAMPION] = {"sharpe": champion}
    return Evaluation(["2025-11-24", "2025-11-25"], metrics, "3" if champion is not None else None,
                      {str(i): s for i, s in enumerate(seeds)})


def test_gates():
    gates = Gates()
    assert all(ok for ok, _ in gates.check(_evaluation(0.5)).values())
    assert gates.check(_evaluation(0.5))["beats_champion"] == (True, "no champion yet")
    assert not gates.check(_evaluation(0.2))["min_sharpe"][0]
    assert gates.check(_evaluation(0.5, champion=0.4))["beats_champion"][0]
    assert not gates.check(_evaluation(0.5, champion=0.5))["beats_champion"][0]  # a tie does not replace it
    assert not gates.check(_evaluation(-0.1))["beats_flat"][0]
    assert "beats_champion" not in Gates(beat_champion=False).check(_evaluation(0.5, champion=1.0))
    assert gates.check(_evaluation(0.5, seeds=[1.0, 1.1, 0.9]))["seed_cv"][0]
    assert not gates.check(_evaluation(0.5, seeds=[1.0, 0.1]))["seed_cv"][0]
    assert "seed_cv" not in gates.check(_evaluation(0.5, seeds=[1.0]))
    assert coefficient_of_variation([1.0, -1.0]) == math.inf
    ev = _evaluation(0.5, champion=0.4, seeds=[1.0, 1.2])
    assert Evaluation.from_dict(ev.to_dict()).to_dict() == ev.to_dict()
