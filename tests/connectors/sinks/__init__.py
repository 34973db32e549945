"""Sink tests: every canonical type, bulk loads, merges, DDL and dirty rows, on real servers."""
