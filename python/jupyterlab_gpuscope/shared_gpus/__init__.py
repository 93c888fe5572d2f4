"""Shared GPUs (the frontend's shared-gpus plugin): who holds memory per user, soft limits,
idle kernels that hold memory, and the watcher that checks them."""
