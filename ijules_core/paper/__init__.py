"""Paper trading: the long-running service that trades the champion through the shared execution path.

    sources (replay | IB real-time bars | Polygon polling) → stream (features, bar by bar)
        → trader (policy → governor → orders → broker → fills → portfolio) → store (trading.*)

`service` runs it (`ijules paper`), `store` is its memory across crashes (written before acting),
`journal` is the broker as the engine sees it (nothing sent or booked unwritten), `simvenue` the
simulated broker that outlives the service, `governor` the risk governor plus what a service
knows (the broker link, standing aside, restarts), `metrics` its Prometheus endpoint. The
Interactive Brokers broker lives with the other brokers (`ijules_core.brokers.ib`).
"""
