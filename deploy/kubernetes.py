"""Run a dse sweep on a Dask cluster in Kubernetes (dask-kubernetes operator).

Usage: python deploy/kubernetes.py SPEC.yaml s3://bucket/results.zarr --endpoint-url URL
The worker image must contain the same dse installation as this client.
"""

from __future__ import annotations

import argparse


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("spec")
    parser.add_argument("output")
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--image", default="ghcr.io/your-org/dse:latest")
    parser.add_argument("--endpoint-url", default=None)
    args = parser.parse_args()

    from dask_kubernetes.operator import KubeCluster

    from dse.spec import load_sweep
    from dse.sweep import run_sweep

    cluster = KubeCluster(name="dse-sweep", image=args.image, n_workers=args.workers,
                          resources={"requests": {"cpu": "1", "memory": "2Gi"}})
    options = {"endpoint_url": args.endpoint_url} if args.endpoint_url else None
    try:
        summary = run_sweep(load_sweep(args.spec), args.output, scheduler=cluster.scheduler_address,
                            storage_options=options)
        print(summary.as_dict())
    finally:
        cluster.close()


if __name__ == "__main__":
    main()
