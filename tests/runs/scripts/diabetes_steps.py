#!/usr/bin/env python3
# /// script
# requires-python = ">=3.11"
# dependencies = [
#     "matplotlib==3.11.2",
#     "nb2pipe-runtime==0.2.0",
#     "pandas==3.1.1",
#     "scikit-learn==1.9.1",
# ]
# ///
"""Diabetes progression, in three steps

Run `python diabetes_steps.py --help` for its parameters; `--step NAME` runs one step,
loading its inputs from the outputs earlier steps saved in --outputs-dir.
"""
# Written by hand in the shape nb2pipe exports a pipeline (tests/runs use it for real runs).

import argparse
import sys

import matplotlib.pyplot as plt
import pandas as pd
from sklearn.linear_model import Ridge
from sklearn.metrics import r2_score
from sklearn.model_selection import train_test_split

try:
    from nb2pipe_runtime import Run, parse_args, record_metrics, save_figures
except ImportError:
    sys.exit("diabetes_steps.py needs nb2pipe-runtime: pip install 'nb2pipe-runtime==0.2.0'")


def load(*, data_path):
    """The notebook's step load."""
    df = pd.read_csv(data_path)
    print(f"{len(df)} rows")
    return df


def train(df, *, test_size, alpha):
    """The notebook's step train."""
    X = df.drop(columns="progression")
    y = df["progression"]
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=test_size, random_state=0)
    model = Ridge(alpha=alpha).fit(X_train, y_train)
    return model, X_test, y_test


def evaluate(model, X_test, y_test, *, test_size):
    """The notebook's step evaluate."""
    predicted = model.predict(X_test)
    r2 = r2_score(y_test, predicted)
    print(f"r2 on {test_size:.0%} held out: {r2:.4f}")
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.scatter(y_test, predicted, s=8)
    ax.set_xlabel("progression")
    ax.set_ylabel("predicted")
    fig.tight_layout()
    save_figures("diabetes_steps-evaluate")
    record_metrics(r2=r2)


def parse_params(argv: list[str] | None = None) -> argparse.Namespace:
    """The notebook's parameters: its defaults < --config file < command line."""
    parser = argparse.ArgumentParser(description="Diabetes progression, in three steps")
    parser.add_argument("--data-path", default="data/diabetes.csv", help="the CSV to read")
    parser.add_argument("--test-size", type=float, default=0.2, help="fraction held out")
    parser.add_argument("--alpha", type=float, default=1.0, help="ridge penalty")
    return parse_args(parser, argv, steps=("load", "train", "evaluate"))


def main(argv: list[str] | None = None) -> None:
    """Run the notebook's steps in order (or the one --step names)."""
    params = parse_params(argv)
    with Run(params, __file__, "diabetes_steps.ipynb") as run:
        df = run.step("load", load, outputs=("df",))
        model, X_test, y_test = run.step("train", train, df, outputs=("model", "X_test", "y_test"))
        run.step("evaluate", evaluate, model, X_test, y_test)


if __name__ == "__main__":
    main()
