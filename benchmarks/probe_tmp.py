import time, statistics, lazuli.core as mx, torch
mx.set_default_device(mx.gpu)
def t(f, reps=10):
    f(); ts=[]
    for _ in range(reps):
        t0=time.perf_counter(); f(); ts.append(time.perf_counter()-t0)
    return statistics.median(ts)
x = mx.ones((16,)); mx.eval(x)
c = mx.array(1.0); mx.eval(c)
k=1000
def chain(step):
    def f():
        y = x
        for _ in range(k): y = step(y)
        mx.eval(y)
    return f
print("y+1   ", t(chain(lambda y: y + 1))/k*1e6, "us")
print("y+y   ", t(chain(lambda y: y + y))/k*1e6, "us")
print("y+c   ", t(chain(lambda y: y + c))/k*1e6, "us")
print("exp(y)", t(chain(lambda y: mx.exp(y)))/k*1e6, "us")
def build():
    y = x
    for _ in range(k): y = y + y
    return y
print("build only", t(build)/k*1e6, "us")
y = x
with_cpu = lambda: None
def cpuchain():
    y = mx.ones((16,), stream=mx.cpu) if False else x
    for _ in range(k): y = mx.add(y, y, stream=mx.cpu)
    mx.eval(y)
print("cpu y+y", t(cpuchain)/k*1e6, "us")
