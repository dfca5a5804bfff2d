"""Test helpers shipped with the package so other L2 backends can prove the same contract."""
