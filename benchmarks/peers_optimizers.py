"""The cases of bench_optimizers.cpp in MLX's CPU build (mlx.optimizers), where installed."""

from timing import median_ms, report


def main():
    try:
        import mlx.core as mx
        import mlx.optimizers as optim
    except ImportError:
        return
    mx.set_default_device(mx.cpu)
    n = 1 << 22
    w = mx.random.normal((n,))
    g = mx.random.normal((n,))
    mx.eval(w, g)

    def timed(case, opt, params, grads, reps=21):
        opt.init(params)
        mx.eval(opt.state)
        state = opt.state

        def one():
            # The same state each time, as the C++ bench: time one update, not a run.
            opt.state = dict(state)
            opt._initialized = True
            mx.eval(opt.apply_gradients(grads, params), opt.state)

        report(case, "mlx", median_ms(one, reps))

    timed("optim adam step 4M", optim.Adam(1e-3, bias_correction=True), {"w": w}, {"w": g})
    timed("optim sgd momentum step 4M", optim.SGD(1e-3, momentum=0.9, weight_decay=1e-4), {"w": w}, {"w": g})
    timed("optim lion step 4M", optim.Lion(1e-3, weight_decay=0.01), {"w": w}, {"w": g})
    mw = mx.random.normal((1024, 1024)) * 0.02
    mg = mx.random.normal((1024, 1024))
    mx.eval(mw, mg)
    timed("optim muon step 1024x1024", optim.Muon(1e-3), {"w": mw}, {"w": mg}, reps=5)



if __name__ == "__main__":
    main()
