"""mx.fast.cuda_kernel: argument checks and NVRTC compilation of the generated program run
everywhere the CUDA backend is built (NVRTC needs no GPU); the launches need a GPU."""
import numpy as np
import pytest

import lazuli.core as mx

EXP_SOURCE = """
    auto elem = cooperative_groups::this_grid().thread_rank();
    if (elem < inp_shape[0] * inp_shape[1]) out[elem] = static_cast<T>(exp(static_cast<float>(inp[elem])));
"""


def exp_kernel(**kw):
    return mx.fast.cuda_kernel(name="myexp", input_names=["inp"], output_names=["out"], source=EXP_SOURCE, **kw)


def call_exp(a, kernel=None, stream=mx.cpu, **kw):
    kernel = kernel or exp_kernel()
    args = dict(inputs=[a], template=[("T", a.dtype)], grid=(a.size, 1, 1), threadgroup=(256, 1, 1),
                output_shapes=[a.shape], output_dtypes=[a.dtype], stream=stream)
    args.update(kw)
    return kernel(**args)


def cuda_built():
    try:
        call_exp(mx.ones((2, 2)))
        return True
    except RuntimeError as e:
        assert "built without CUDA" in str(e)
        return False


needs_cuda_build = pytest.mark.skipif(not cuda_built(), reason="Lazuli built without CUDA (no NVRTC)")
needs_gpu = pytest.mark.skipif(not mx.cuda.is_available(), reason="no GPU")


def test_definition_errors():
    with pytest.raises(ValueError, match="needs a name"):
        mx.fast.cuda_kernel(name="", input_names=["a"], output_names=["b"], source="")
    with pytest.raises(ValueError, match="'my-kernel' must be a C\\+\\+ identifier"):
        mx.fast.cuda_kernel(name="my-kernel", input_names=["a"], output_names=["b"], source="")
    with pytest.raises(ValueError, match="at least one output"):
        mx.fast.cuda_kernel(name="k", input_names=["a"], output_names=[], source="")
    with pytest.raises(ValueError, match="'a' is used twice"):
        mx.fast.cuda_kernel(name="k", input_names=["a"], output_names=["a"], source="")
    with pytest.raises(ValueError, match="shared_memory -4"):
        mx.fast.cuda_kernel(name="k", input_names=["a"], output_names=["b"], source="", shared_memory=-4)


def test_call_errors():
    a = mx.ones((4, 4))
    with pytest.raises(ValueError, match="got 2 inputs for 1 input names"):
        call_exp(a, inputs=[a, a])
    with pytest.raises(ValueError, match="got 2 output shapes and 1 output dtypes"):
        call_exp(a, output_shapes=[a.shape, a.shape])
    with pytest.raises(ValueError, match="got 1 output shapes and 2 output dtypes"):
        call_exp(a, output_dtypes=[mx.float32, mx.float32])
    with pytest.raises(ValueError, match=r"grid \(0, 1, 1\) must be positive"):
        call_exp(a, grid=(0, 1, 1))
    with pytest.raises(ValueError, match=r"threadgroup \(0, 1, 1\) must be positive"):
        call_exp(a, threadgroup=(0, 1, 1))
    with pytest.raises(ValueError, match="has 2048 threads"):
        call_exp(a, threadgroup=(1024, 2, 1))
    with pytest.raises(ValueError, match="grid must have 3 entries"):
        call_exp(a, grid=(16, 1))
    with pytest.raises(ValueError, match="template argument 'T' is a float; it must be an int, a bool or a Dtype"):
        call_exp(a, template=[("T", 1.5)])
    with pytest.raises(ValueError, match="template argument 'T' is a str"):
        call_exp(a, template=[("T", "float")])
    with pytest.raises(ValueError, match="'T' is used twice"):
        call_exp(a, template=[("T", mx.float32), ("T", 2)])
    with pytest.raises(TypeError, match="output_dtypes must be Dtypes"):
        call_exp(a, output_dtypes=["float32"])


@needs_cuda_build
def test_generated_source_compiles_and_is_printed(capfd):
    a = mx.ones((4, 4), dtype=mx.float16)
    (out,) = call_exp(a, template=[("T", mx.float16), ("N", 3), ("flag", True)], verbose=True)
    assert out.shape == (4, 4) and out.dtype == mx.float16
    printed = capfd.readouterr().out
    assert "Generated source code for `myexp`" in printed
    assert "const __half* __restrict__ inp" in printed
    assert "const lazuli_custom::Dims<int32_t> inp_shape" in printed
    assert "inp_strides" not in printed  # only what the body reads is passed
    assert "lazuli_custom_body<__half, 3, true>(inp, inp_shape, out)" in printed


@needs_cuda_build
def test_compile_error_has_nvrtc_log():
    k = mx.fast.cuda_kernel(name="broken", input_names=["a"], output_names=["b"], source="b[0] = a[0] + nope;")
    with pytest.raises(RuntimeError, match="(?s)'broken'.*nope"):
        call_exp(mx.ones((2, 2)), kernel=k, template=[])


@needs_cuda_build
def test_cpu_eval_gradients_and_vmap_refused():
    a = mx.ones((4, 4))
    (out,) = call_exp(a)
    with pytest.raises(ValueError, match=r"\[cuda_kernel\] Custom CUDA kernels run on the GPU only"):
        mx.eval(out)

    def f(x):
        return call_exp(x)[0].sum()

    with pytest.raises(ValueError, match="has no gradient"):
        mx.grad(f)(a)
    with pytest.raises(ValueError, match="cannot be vmapped"):
        mx.vmap(lambda x: call_exp(x)[0])(mx.ones((2, 4, 4)))


@needs_gpu
@pytest.mark.parametrize("dtype", [mx.float32, mx.float16, mx.bfloat16])
def test_gpu_elementwise_exp(dtype):
    x = mx.random.normal((33, 70)).astype(dtype)
    (out,) = call_exp(x, stream=mx.gpu)
    want = np.exp(np.array(x.astype(mx.float32)))
    tol = {mx.float32: 1e-6, mx.float16: 2e-3, mx.bfloat16: 1.6e-2}[dtype]
    np.testing.assert_allclose(np.array(out.astype(mx.float32)), want, rtol=tol)
    # A transposed view is made row-contiguous first.
    (out_t,) = call_exp(x.T, stream=mx.gpu)
    np.testing.assert_allclose(np.array(out_t.astype(mx.float32)), want.T, rtol=tol)


@needs_gpu
def test_gpu_template_args_and_strides():
    source = """
        size_t i = blockIdx.x * blockDim.x + threadIdx.x;
        if (i >= a_shape[0] * a_shape[1]) return;
        int64_t at = (i / a_shape[1]) * a_strides[0] + (i % a_shape[1]) * a_strides[1];
        T v = static_cast<T>(a[at]) * static_cast<T>(Scale);
        out[i] = Negate ? -v : v;
    """
    k = mx.fast.cuda_kernel(name="scaled", input_names=["a"], output_names=["out"], source=source,
                            ensure_row_contiguous=False)
    x = mx.random.normal((20, 30))
    for negate in (False, True):
        (out,) = k(inputs=[x.T], template=[("T", mx.float64), ("Scale", 4), ("Negate", negate)], grid=(600, 1, 1),
                   threadgroup=(128, 1, 1), output_shapes=[(30, 20)], output_dtypes=[mx.float64], stream=mx.gpu)
        want = np.array(x).T.astype(np.float64) * 4 * (-1 if negate else 1)
        np.testing.assert_allclose(np.array(out), want, rtol=1e-12)


@needs_gpu
def test_gpu_init_value_and_atomic_add():
    source = """
        size_t i = blockIdx.x * blockDim.x + threadIdx.x;
        if (i < x_shape[0]) atomicAdd(&bins[x[i]], 1.0f);
    """
    k = mx.fast.cuda_kernel(name="histogram", input_names=["x"], output_names=["bins"], source=source,
                            atomic_outputs=True)
    x = mx.random.randint(0, 10, (50001,))
    (bins,) = k(inputs=[x], grid=(50001, 1, 1), threadgroup=(256, 1, 1), output_shapes=[(10,)],
                output_dtypes=[mx.float32], init_value=2.0, stream=mx.gpu)
    want = np.bincount(np.array(x), minlength=10) + 2.0
    np.testing.assert_array_equal(np.array(bins), want)
