"""Exceptions k8sretry itself raises (bad configuration). Errors of the calls it retries are
re-raised unchanged, never wrapped."""

from __future__ import annotations


class K8sRetryError(Exception):
    """Base class of k8sretry's own errors."""


class PolicyError(K8sRetryError, ValueError):
    """A policy is invalid: unknown preset, unknown JSON key, or an out-of-range value."""
