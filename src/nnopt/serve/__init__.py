"""`nnopt serve`: a web playground — optimizer trajectories on 2-D functions, and a network training
live on the library's own Trainer, its events streamed to the page (needs the `serve` extra).

    from nnopt.serve.command import serve_in_thread
    url, stop = serve_in_thread()      # http://127.0.0.1:PORT/ in a daemon thread; stop() ends it
"""
