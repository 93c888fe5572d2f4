"""Tests of the gpuscope server extension."""
