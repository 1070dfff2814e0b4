"""Tests of nb2pipe-runtime (runtime/nb2pipe_runtime), the package exported scripts import."""
