"""scripts/mine_error_codes.py reads status enums from NVIDIA headers as they are written."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def miner():
    spec = importlib.util.spec_from_file_location("mine_error_codes", ROOT / "scripts" / "mine_error_codes.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


HEADER = """
typedef enum cufftResult_t {
  CUFFT_SUCCESS        = 0x0,
  CUFFT_INVALID_PLAN   = 0x1,
  CUFFT_ALLOC_FAILED   = 0x2,
  CUFFT_NOT_SUPPORTED  = 0x10, // comment
} cufftResult;
enum cudaError {
    cudaSuccess                           =      0,
    /** The API call failed because it was unable to allocate enough memory. */
    cudaErrorMemoryAllocation             =      2,
    cudaErrorApiFailureBase               =  10000,
    cudaErrorAlias                        = cudaErrorMemoryAllocation
};
"""


def test_enum_values_are_read_in_decimal_and_hex_and_aliases_are_skipped():
    mine = miner()
    assert mine.enum_codes(HEADER, mine.LIBRARIES["cufft"]["pattern"]) == {
        "CUFFT_SUCCESS": 0,
        "CUFFT_INVALID_PLAN": 1,
        "CUFFT_ALLOC_FAILED": 2,
        "CUFFT_NOT_SUPPORTED": 16,
    }
    assert mine.enum_codes(HEADER, mine.LIBRARIES["cudart"]["pattern"]) == {
        "cudaErrorMemoryAllocation": 2,
        "cudaErrorApiFailureBase": 10000,
    }


def test_the_committed_tables_name_their_wheels_and_carry_the_libraries_strings():
    tables = json.loads((ROOT / "src" / "core" / "knowledge" / "error-codes.json").read_text())["libraries"]
    assert {"cudart", "driver", "cublas", "cudnn", "nccl", "cufft", "cusolver", "cusparse"} <= set(tables)
    runtime = {c["name"]: c for c in tables["cudart"]["codes"]}
    # What libcudart itself returns (cudaGetErrorString), not a name made into prose.
    assert runtime["cudaErrorIllegalAddress"]["string"] == "an illegal memory access was encountered"
    assert runtime["cudaErrorNoKernelImageForDevice"]["value"] == 209
    assert all(len(source["sha256"]) == 64 for table in tables.values() for source in table["sources"])
