# -*- coding: utf-8 -*-
"""Benchmarks of sts.devicemapper (`make bench`); see docs/performance.md."""
