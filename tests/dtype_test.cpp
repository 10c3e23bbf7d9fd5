// Dtypes: sizes, names, categories, promotion, casting, finfo/iinfo and the 16-bit float
// storage types.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <iterator>
#include <limits>
#include <sstream>
#include <string>

#include "lazuli/lazuli.h"

using namespace lazuli;

namespace {

float f32_from_bits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
uint16_t half_bits(float f) { return float16_t(f).bits; }
uint16_t bf16_bits(float f) { return bfloat16_t(f).bits; }

}  // namespace

TEST(Dtype, SizesAndNames) {
  struct Row {
    Dtype t;
    int size;
    const char* name;
  };
  const Row rows[] = {
      {bool_, 1, "bool"},       {uint8, 1, "uint8"},     {uint16, 2, "uint16"},
      {uint32, 4, "uint32"},    {uint64, 8, "uint64"},   {int8, 1, "int8"},
      {int16, 2, "int16"},      {int32, 4, "int32"},     {int64, 8, "int64"},
      {float16, 2, "float16"},  {float32, 4, "float32"}, {float64, 8, "float64"},
      {bfloat16, 2, "bfloat16"}, {complex64, 8, "complex64"},
  };
  ASSERT_EQ(std::size(rows), size_t(num_dtypes));
  for (int i = 0; i < num_dtypes; ++i) {
    const Row& r = rows[i];
    EXPECT_EQ(r.t.size, r.size) << r.name;
    EXPECT_EQ(dtype_name(r.t), r.name);
    EXPECT_EQ(dtype_from_index(i), r.t) << r.name;
    std::ostringstream os;
    os << r.t;
    EXPECT_EQ(os.str(), r.name);
  }
  // The C++ element types have the sizes of their dtypes.
  EXPECT_EQ(sizeof(float16_t), 2u);
  EXPECT_EQ(sizeof(bfloat16_t), 2u);
  EXPECT_EQ(sizeof(complex64_t), 8u);
  EXPECT_EQ(dtype_of<float>, float32);
  EXPECT_EQ(dtype_of<double>, float64);
  EXPECT_EQ(dtype_of<int>, int32);
  EXPECT_EQ(dtype_of<bool>, bool_);
  EXPECT_EQ(dtype_of<float16_t>, float16);
  EXPECT_EQ(dtype_of<bfloat16_t>, bfloat16);
}

TEST(Dtype, EqualityComparesTheType) {
  EXPECT_EQ(float32, float32);
  EXPECT_NE(float32, int32);  // same size, different type
  EXPECT_NE(float16, bfloat16);
  EXPECT_NE(int64, complex64);
}

TEST(Dtype, KindsAndPredicates) {
  EXPECT_EQ(kindof(bool_), Dtype::Kind::b);
  EXPECT_EQ(kindof(uint16), Dtype::Kind::u);
  EXPECT_EQ(kindof(int64), Dtype::Kind::i);
  EXPECT_EQ(kindof(float16), Dtype::Kind::f);
  EXPECT_EQ(kindof(float64), Dtype::Kind::f);
  EXPECT_EQ(kindof(bfloat16), Dtype::Kind::V);
  EXPECT_EQ(kindof(complex64), Dtype::Kind::c);

  for (Dtype t : {float16, float32, float64, bfloat16}) {
    EXPECT_TRUE(is_floating_point(t)) << t;
    EXPECT_FALSE(is_integral(t)) << t;
    EXPECT_FALSE(is_complex(t)) << t;
  }
  for (Dtype t : {bool_, uint8, uint64, int8, int64}) {
    EXPECT_TRUE(is_integral(t)) << t;
    EXPECT_FALSE(is_floating_point(t)) << t;
  }
  EXPECT_TRUE(is_complex(complex64));
  EXPECT_FALSE(is_floating_point(complex64));
  EXPECT_FALSE(is_integral(complex64));
  EXPECT_TRUE(is_unsigned(bool_));
  EXPECT_TRUE(is_unsigned(uint32));
  EXPECT_FALSE(is_unsigned(int32));
  EXPECT_FALSE(is_unsigned(float32));
}

TEST(Dtype, ArrayProtocol) {
  EXPECT_EQ(dtype_to_array_protocol(float32), "<f4");
  EXPECT_EQ(dtype_to_array_protocol(float16), "<f2");
  EXPECT_EQ(dtype_to_array_protocol(int64), "<i8");
  EXPECT_EQ(dtype_to_array_protocol(uint8), "|u1");
  EXPECT_EQ(dtype_to_array_protocol(int8), "|i1");
  EXPECT_EQ(dtype_to_array_protocol(bool_), "|b1");
  EXPECT_EQ(dtype_to_array_protocol(complex64), "<c8");
  EXPECT_EQ(dtype_to_array_protocol(bfloat16), "<V2");
}

// MLX's promotion table (mlx/dtype.cpp), rows and columns in the order of Dtype::Val.
TEST(Dtype, PromoteTypesAllPairs) {
  const Dtype b = bool_, u8 = uint8, u16 = uint16, u32 = uint32, u64 = uint64, i8 = int8,
              i16 = int16, i32 = int32, i64 = int64, f16 = float16, f32 = float32, f64 = float64,
              bf = bfloat16, c = complex64;
  const Dtype order[num_dtypes] = {b, u8, u16, u32, u64, i8, i16, i32, i64, f16, f32, f64, bf, c};
  const Dtype table[num_dtypes][num_dtypes] = {
      //  b    u8   u16  u32  u64  i8   i16  i32  i64  f16  f32  f64  bf   c
      {b,   u8,  u16, u32, u64, i8,  i16, i32, i64, f16, f32, f64, bf,  c},  // bool
      {u8,  u8,  u16, u32, u64, i16, i16, i32, i64, f16, f32, f64, bf,  c},  // uint8
      {u16, u16, u16, u32, u64, i32, i32, i32, i64, f16, f32, f64, bf,  c},  // uint16
      {u32, u32, u32, u32, u64, i64, i64, i64, i64, f16, f32, f64, bf,  c},  // uint32
      {u64, u64, u64, u64, u64, f32, f32, f32, f32, f16, f32, f64, bf,  c},  // uint64
      {i8,  i16, i32, i64, f32, i8,  i16, i32, i64, f16, f32, f64, bf,  c},  // int8
      {i16, i16, i32, i64, f32, i16, i16, i32, i64, f16, f32, f64, bf,  c},  // int16
      {i32, i32, i32, i64, f32, i32, i32, i32, i64, f16, f32, f64, bf,  c},  // int32
      {i64, i64, i64, i64, f32, i64, i64, i64, i64, f16, f32, f64, bf,  c},  // int64
      {f16, f16, f16, f16, f16, f16, f16, f16, f16, f16, f32, f64, f32, c},  // float16
      {f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f64, f32, c},  // float32
      {f64, f64, f64, f64, f64, f64, f64, f64, f64, f64, f64, f64, f64, c},  // float64
      {bf,  bf,  bf,  bf,  bf,  bf,  bf,  bf,  bf,  f32, f32, f64, bf,  c},  // bfloat16
      {c,   c,   c,   c,   c,   c,   c,   c,   c,   c,   c,   c,   c,   c},  // complex64
  };
  for (int i = 0; i < num_dtypes; ++i) {
    ASSERT_EQ(dtype_from_index(i), order[i]);
    for (int j = 0; j < num_dtypes; ++j) {
      EXPECT_EQ(promote_types(order[i], order[j]), table[i][j])
          << "promote_types(" << order[i] << ", " << order[j] << ")";
      // Symmetric, and the table itself is symmetric.
      EXPECT_EQ(promote_types(order[i], order[j]), promote_types(order[j], order[i]));
      EXPECT_EQ(table[i][j], table[j][i]);
    }
  }
}

TEST(Dtype, PromoteTypesRules) {
  // Spot checks of the rules the table encodes.
  for (int i = 0; i < num_dtypes; ++i) {
    Dtype t = dtype_from_index(i);
    EXPECT_EQ(promote_types(t, t), t);
    EXPECT_EQ(promote_types(bool_, t), t);
    EXPECT_EQ(promote_types(t, complex64), complex64);
  }
  EXPECT_EQ(promote_types(int8, int64), int64);       // same kind widens
  EXPECT_EQ(promote_types(uint8, uint32), uint32);
  EXPECT_EQ(promote_types(float16, float64), float64);
  EXPECT_EQ(promote_types(uint8, int8), int16);       // next signed that holds both
  EXPECT_EQ(promote_types(uint16, int16), int32);
  EXPECT_EQ(promote_types(uint32, int32), int64);
  EXPECT_EQ(promote_types(uint8, int32), int32);      // the signed one already holds both
  EXPECT_EQ(promote_types(uint64, int8), float32);    // nothing integral holds both
  EXPECT_EQ(promote_types(int64, float16), float16);  // int with float: the float
  EXPECT_EQ(promote_types(uint64, bfloat16), bfloat16);
  EXPECT_EQ(promote_types(float16, bfloat16), float32);
}

TEST(Dtype, ResultType) {
  array a = array(1, int8), b = array(2, uint8), h = array(1.0f, float16), bf = array(1.0f, bfloat16);
  EXPECT_EQ(result_type({a}), int8);
  EXPECT_EQ(result_type(a, b), int16);
  EXPECT_EQ(result_type(h, bf), float32);
  EXPECT_EQ(result_type({a, b, h}), float16);
  EXPECT_EQ(result_type({array(true), array(1u)}), uint32);
  EXPECT_EQ(result_type({a, array(1.0f, complex64)}), complex64);
  EXPECT_EQ(result_type({array(1, uint64), array(1, int32)}), float32);
  try {
    result_type(std::vector<array>{});
    FAIL() << "result_type of no arrays should throw";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("[result_type]"), std::string::npos) << e.what();
  }
}

TEST(Dtype, CanCast) {
  for (int i = 0; i < num_dtypes; ++i) {
    Dtype t = dtype_from_index(i);
    EXPECT_TRUE(can_cast(t, t)) << t;
    EXPECT_TRUE(can_cast(bool_, t)) << t;
  }
  // Safe casting: every value survives exactly.
  EXPECT_TRUE(can_cast(float32, complex64));
  EXPECT_TRUE(can_cast(int16, complex64));
  EXPECT_FALSE(can_cast(int32, complex64));
  EXPECT_FALSE(can_cast(float64, complex64));
  EXPECT_FALSE(can_cast(int32, float32));
  EXPECT_FALSE(can_cast(int64, float16));
  EXPECT_FALSE(can_cast(uint64, float32));
  EXPECT_TRUE(can_cast(uint8, float16));
  EXPECT_FALSE(can_cast(int16, float16));
  EXPECT_FALSE(can_cast(bfloat16, float16));
  EXPECT_TRUE(can_cast(int8, int16));
  EXPECT_TRUE(can_cast(uint8, int16));
  EXPECT_TRUE(can_cast(uint16, uint64));
  EXPECT_TRUE(can_cast(float16, float32));
  EXPECT_TRUE(can_cast(bfloat16, float64));
  EXPECT_TRUE(can_cast(int32, float64));
  EXPECT_FALSE(can_cast(int16, int8));
  EXPECT_FALSE(can_cast(uint8, int8));
  EXPECT_FALSE(can_cast(int8, uint8));
  EXPECT_FALSE(can_cast(int8, uint64));
  EXPECT_FALSE(can_cast(float32, float16));
  EXPECT_FALSE(can_cast(float16, bfloat16));
  EXPECT_FALSE(can_cast(float32, int64));
  EXPECT_FALSE(can_cast(complex64, float64));
  EXPECT_FALSE(can_cast(int32, bool_));
}

TEST(Dtype, IssubdtypeCategories) {
  using C = DtypeCategory;
  for (Dtype t : {float16, float32, float64, bfloat16}) {
    EXPECT_TRUE(issubdtype(t, C::floating)) << t;
    EXPECT_TRUE(issubdtype(t, C::inexact)) << t;
    EXPECT_TRUE(issubdtype(t, C::number)) << t;
    EXPECT_TRUE(issubdtype(t, C::generic)) << t;
    EXPECT_FALSE(issubdtype(t, C::integer)) << t;
    EXPECT_FALSE(issubdtype(t, C::complexfloating)) << t;
  }
  for (Dtype t : {int8, int16, int32, int64}) {
    EXPECT_TRUE(issubdtype(t, C::signedinteger)) << t;
    EXPECT_TRUE(issubdtype(t, C::integer)) << t;
    EXPECT_TRUE(issubdtype(t, C::number)) << t;
    EXPECT_TRUE(issubdtype(t, C::generic)) << t;
    EXPECT_FALSE(issubdtype(t, C::unsignedinteger)) << t;
    EXPECT_FALSE(issubdtype(t, C::inexact)) << t;
  }
  for (Dtype t : {uint8, uint16, uint32, uint64}) {
    EXPECT_TRUE(issubdtype(t, C::unsignedinteger)) << t;
    EXPECT_TRUE(issubdtype(t, C::integer)) << t;
    EXPECT_TRUE(issubdtype(t, C::number)) << t;
    EXPECT_FALSE(issubdtype(t, C::signedinteger)) << t;
    EXPECT_FALSE(issubdtype(t, C::floating)) << t;
  }
  EXPECT_TRUE(issubdtype(complex64, C::complexfloating));
  EXPECT_TRUE(issubdtype(complex64, C::inexact));
  EXPECT_TRUE(issubdtype(complex64, C::number));
  EXPECT_FALSE(issubdtype(complex64, C::floating));
  // bool is not a number, as in NumPy.
  EXPECT_TRUE(issubdtype(bool_, C::generic));
  EXPECT_FALSE(issubdtype(bool_, C::number));
  EXPECT_FALSE(issubdtype(bool_, C::integer));
  EXPECT_FALSE(issubdtype(bool_, C::unsignedinteger));

  // Category hierarchy.
  EXPECT_TRUE(issubdtype(C::floating, C::inexact));
  EXPECT_TRUE(issubdtype(C::complexfloating, C::inexact));
  EXPECT_TRUE(issubdtype(C::inexact, C::number));
  EXPECT_TRUE(issubdtype(C::signedinteger, C::integer));
  EXPECT_TRUE(issubdtype(C::unsignedinteger, C::number));
  EXPECT_TRUE(issubdtype(C::integer, C::number));
  EXPECT_TRUE(issubdtype(C::number, C::generic));
  EXPECT_TRUE(issubdtype(C::floating, C::floating));
  EXPECT_FALSE(issubdtype(C::number, C::integer));
  EXPECT_FALSE(issubdtype(C::integer, C::inexact));
  EXPECT_FALSE(issubdtype(C::floating, C::complexfloating));
  EXPECT_FALSE(issubdtype(C::generic, C::number));

  // Between dtypes: only the same dtype; a category is never under a dtype.
  EXPECT_TRUE(issubdtype(float32, float32));
  EXPECT_FALSE(issubdtype(float32, float64));
  EXPECT_FALSE(issubdtype(int8, int16));
  EXPECT_FALSE(issubdtype(C::floating, float32));
}

TEST(Dtype, Finfo) {
  finfo h(float16);
  EXPECT_EQ(h.dtype, float16);
  EXPECT_EQ(h.bits, 16);
  EXPECT_EQ(h.max, 65504.0);
  EXPECT_EQ(h.min, -65504.0);
  EXPECT_EQ(h.eps, std::ldexp(1.0, -10));
  EXPECT_EQ(h.smallest_normal, std::ldexp(1.0, -14));
  // Agrees with the storage type's own largest finite value and epsilon.
  EXPECT_EQ(h.max, double(float16_t::from_bits(0x7bff)));
  EXPECT_EQ(h.eps, double(float16_t::from_bits(0x3c01)) - 1.0);
  EXPECT_EQ(h.smallest_normal, double(float16_t::from_bits(0x0400)));

  finfo bf(bfloat16);
  EXPECT_EQ(bf.dtype, bfloat16);
  EXPECT_EQ(bf.bits, 16);
  EXPECT_EQ(bf.max, double(bfloat16_t::from_bits(0x7f7f)));
  EXPECT_EQ(bf.min, -bf.max);
  EXPECT_EQ(bf.eps, std::ldexp(1.0, -7));
  EXPECT_EQ(bf.eps, double(bfloat16_t::from_bits(0x3f81)) - 1.0);
  EXPECT_EQ(bf.smallest_normal, double(std::numeric_limits<float>::min()));

  finfo f(float32);
  EXPECT_EQ(f.dtype, float32);
  EXPECT_EQ(f.bits, 32);
  EXPECT_EQ(f.max, double(std::numeric_limits<float>::max()));
  EXPECT_EQ(f.min, -double(std::numeric_limits<float>::max()));
  EXPECT_EQ(f.eps, std::ldexp(1.0, -23));
  EXPECT_EQ(f.smallest_normal, std::ldexp(1.0, -126));

  finfo d(float64);
  EXPECT_EQ(d.dtype, float64);
  EXPECT_EQ(d.bits, 64);
  EXPECT_EQ(d.max, std::numeric_limits<double>::max());
  EXPECT_EQ(d.min, std::numeric_limits<double>::lowest());
  EXPECT_EQ(d.eps, std::ldexp(1.0, -52));
  EXPECT_EQ(d.smallest_normal, std::numeric_limits<double>::min());

  // complex64 reports its float32 parts, as NumPy does.
  finfo c(complex64);
  EXPECT_EQ(c.dtype, float32);
  EXPECT_EQ(c.max, f.max);
  EXPECT_EQ(c.eps, f.eps);

  for (Dtype t : {bool_, uint8, int32, int64, uint64}) {
    try {
      finfo bad(t);
      FAIL() << "finfo(" << t << ") should throw";
    } catch (const std::invalid_argument& e) {
      std::string msg = e.what();
      EXPECT_NE(msg.find("[finfo]"), std::string::npos) << msg;
      EXPECT_NE(msg.find(dtype_name(t)), std::string::npos) << msg;
    }
  }
}

TEST(Dtype, Iinfo) {
  struct Row {
    Dtype t;
    int bits;
    int64_t min;
    uint64_t max;
  };
  const Row rows[] = {
      {int8, 8, -128, 127},
      {int16, 16, -32768, 32767},
      {int32, 32, std::numeric_limits<int32_t>::min(), uint64_t(std::numeric_limits<int32_t>::max())},
      {int64, 64, std::numeric_limits<int64_t>::min(), uint64_t(std::numeric_limits<int64_t>::max())},
      {uint8, 8, 0, 255},
      {uint16, 16, 0, 65535},
      {uint32, 32, 0, 4294967295ull},
      {uint64, 64, 0, std::numeric_limits<uint64_t>::max()},
  };
  for (const Row& r : rows) {
    iinfo i(r.t);
    EXPECT_EQ(i.dtype, r.t);
    EXPECT_EQ(i.bits, r.bits) << r.t;
    EXPECT_EQ(i.min, r.min) << r.t;
    EXPECT_EQ(i.max, r.max) << r.t;
  }
  for (Dtype t : {bool_, float16, float32, bfloat16, complex64}) {
    try {
      iinfo bad(t);
      FAIL() << "iinfo(" << t << ") should throw";
    } catch (const std::invalid_argument& e) {
      std::string msg = e.what();
      EXPECT_NE(msg.find("[iinfo]"), std::string::npos) << msg;
      EXPECT_NE(msg.find(dtype_name(t)), std::string::npos) << msg;
    }
  }
}

// ---- float16_t ---------------------------------------------------------------------------

TEST(Float16, ExactValues) {
  EXPECT_EQ(half_bits(0.0f), 0x0000);
  EXPECT_EQ(half_bits(-0.0f), 0x8000);
  EXPECT_EQ(half_bits(1.0f), 0x3c00);
  EXPECT_EQ(half_bits(-2.0f), 0xc000);
  EXPECT_EQ(half_bits(0.5f), 0x3800);
  EXPECT_EQ(half_bits(65504.0f), 0x7bff);
  EXPECT_EQ(half_bits(0.333251953125f), 0x3555);  // nearest half to 1/3, exact
  EXPECT_EQ(float(float16_t::from_bits(0x3c00)), 1.0f);
  EXPECT_EQ(float(float16_t::from_bits(0xc000)), -2.0f);
  EXPECT_EQ(float(float16_t::from_bits(0x7bff)), 65504.0f);
  EXPECT_EQ(float(float16_t(3)), 3.0f);       // from int
  EXPECT_EQ(float(float16_t(2.5)), 2.5f);     // from double
}

TEST(Float16, RoundsToNearestEven) {
  const float ulp1 = std::ldexp(1.0f, -10);  // spacing of halves in [1, 2)
  // Exactly halfway: ties go to the even mantissa.
  EXPECT_EQ(half_bits(1.0f + ulp1 / 2), 0x3c00);        // 1 (even) rather than 1 + ulp
  EXPECT_EQ(half_bits(1.0f + 3 * ulp1 / 2), 0x3c02);    // 1 + 2 ulp (even) rather than 1 + ulp
  EXPECT_EQ(half_bits(-(1.0f + ulp1 / 2)), 0xbc00);
  // Off the tie: nearest.
  EXPECT_EQ(half_bits(1.0f + ulp1 / 2 + ulp1 / 64), 0x3c01);
  EXPECT_EQ(half_bits(1.0f + ulp1 / 2 - ulp1 / 64), 0x3c00);
  EXPECT_EQ(half_bits(1.0f + ulp1 * 0.9f), 0x3c01);
  // Rounding that carries into the exponent.
  EXPECT_EQ(half_bits(2.0f - std::ldexp(1.0f, -12)), 0x4000);
}

TEST(Float16, OverflowInfAndNan) {
  const float inf = std::numeric_limits<float>::infinity();
  EXPECT_EQ(half_bits(65519.0f), 0x7bff);  // below the midpoint to 65536: rounds to max
  EXPECT_EQ(half_bits(65520.0f), 0x7c00);  // the midpoint rounds to even, i.e. to inf
  EXPECT_EQ(half_bits(1e6f), 0x7c00);
  EXPECT_EQ(half_bits(-1e6f), 0xfc00);
  EXPECT_EQ(half_bits(std::numeric_limits<float>::max()), 0x7c00);
  EXPECT_EQ(half_bits(inf), 0x7c00);
  EXPECT_EQ(half_bits(-inf), 0xfc00);
  EXPECT_EQ(float(float16_t::from_bits(0x7c00)), inf);
  EXPECT_EQ(float(float16_t::from_bits(0xfc00)), -inf);

  float16_t n(std::numeric_limits<float>::quiet_NaN());
  EXPECT_TRUE(std::isnan(float(n)));
  EXPECT_EQ(n.bits & 0x7c00, 0x7c00);
  EXPECT_NE(n.bits & 0x03ff, 0);
  EXPECT_TRUE(std::isnan(float(float16_t(-std::numeric_limits<float>::quiet_NaN()))));
  // A NaN whose payload lives only in the low float bits must stay a NaN, not become inf.
  EXPECT_TRUE(std::isnan(float(float16_t(f32_from_bits(0x7f800001u)))));
}

TEST(Float16, Subnormals) {
  const float tiny = std::ldexp(1.0f, -24);  // smallest half subnormal
  EXPECT_EQ(half_bits(tiny), 0x0001);
  EXPECT_EQ(half_bits(-tiny), 0x8001);
  EXPECT_EQ(half_bits(3 * tiny), 0x0003);
  EXPECT_EQ(half_bits(std::ldexp(1.0f, -14)), 0x0400);         // smallest normal
  EXPECT_EQ(half_bits(std::ldexp(1.0f, -14) - tiny), 0x03ff);  // largest subnormal
  EXPECT_EQ(half_bits(tiny / 2), 0x0000);                      // tie to even: 0
  EXPECT_EQ(half_bits(3 * tiny / 2), 0x0002);                  // tie to even: 2
  EXPECT_EQ(half_bits(5 * tiny / 2), 0x0002);                  // tie to even: 2
  EXPECT_EQ(half_bits(tiny * 0.6f), 0x0001);
  EXPECT_EQ(half_bits(tiny * 0.4f), 0x0000);
  EXPECT_EQ(half_bits(-tiny * 0.4f), 0x8000);                  // keeps the sign
  EXPECT_EQ(half_bits(1e-30f), 0x0000);
  EXPECT_EQ(float(float16_t::from_bits(0x0001)), tiny);
  EXPECT_EQ(float(float16_t::from_bits(0x8001)), -tiny);
  EXPECT_EQ(float(float16_t::from_bits(0x03ff)), 1023 * tiny);
  EXPECT_TRUE(std::signbit(float(float16_t::from_bits(0x8000))));
}

TEST(Float16, EveryBitPatternRoundTrips) {
  for (uint32_t b = 0; b < 0x10000; ++b) {
    float16_t h = float16_t::from_bits(static_cast<uint16_t>(b));
    float f = h;
    bool is_nan = (b & 0x7c00) == 0x7c00 && (b & 0x03ff) != 0;
    if (is_nan) {
      ASSERT_TRUE(std::isnan(f)) << std::hex << b;
      ASSERT_TRUE(std::isnan(float(float16_t(f)))) << std::hex << b;
    } else {
      ASSERT_EQ(float16_t(f).bits, b) << std::hex << b << " -> " << f;
    }
  }
}

#ifdef __FLT16_MAX__
// The compiler's own float -> _Float16 conversion rounds correctly; compare a sweep of
// float bit patterns (every exponent, many mantissas) against it.
TEST(Float16, MatchesCompilerConversion) {
  for (uint64_t u = 0; u <= 0xffffffffull; u += 4099) {
    float f = f32_from_bits(static_cast<uint32_t>(u));
    _Float16 ref = static_cast<_Float16>(f);
    uint16_t ref_bits;
    std::memcpy(&ref_bits, &ref, 2);
    uint16_t got = half_bits(f);
    if (std::isnan(f)) {
      ASSERT_TRUE(std::isnan(float(float16_t::from_bits(got)))) << std::hex << u;
    } else {
      ASSERT_EQ(got, ref_bits) << "float " << f << " bits " << std::hex << u;
    }
  }
}
#endif

// ---- bfloat16_t --------------------------------------------------------------------------

TEST(BFloat16, ValuesRoundingAndSpecials) {
  EXPECT_EQ(bf16_bits(1.0f), 0x3f80);
  EXPECT_EQ(bf16_bits(-2.0f), 0xc000);
  EXPECT_EQ(bf16_bits(0.0f), 0x0000);
  EXPECT_EQ(bf16_bits(-0.0f), 0x8000);
  const float ulp1 = std::ldexp(1.0f, -7);
  EXPECT_EQ(bf16_bits(1.0f + ulp1 / 2), 0x3f80);      // tie to even: 1
  EXPECT_EQ(bf16_bits(1.0f + 3 * ulp1 / 2), 0x3f82);  // tie to even: 1 + 2 ulp
  EXPECT_EQ(bf16_bits(1.0f + ulp1 / 2 + ulp1 / 64), 0x3f81);
  EXPECT_EQ(bf16_bits(1.0f + ulp1 * 0.4f), 0x3f80);
  // Overflow past the largest bfloat16 rounds to inf; the largest itself stays.
  EXPECT_EQ(bf16_bits(std::numeric_limits<float>::max()), 0x7f80);
  EXPECT_EQ(bf16_bits(-std::numeric_limits<float>::max()), 0xff80);
  EXPECT_EQ(bf16_bits(float(bfloat16_t::from_bits(0x7f7f))), 0x7f7f);
  EXPECT_EQ(bf16_bits(std::numeric_limits<float>::infinity()), 0x7f80);
  EXPECT_EQ(bf16_bits(-std::numeric_limits<float>::infinity()), 0xff80);
  EXPECT_TRUE(std::isnan(float(bfloat16_t(std::numeric_limits<float>::quiet_NaN()))));
  // NaN payloads only in the low bits must not round to inf.
  EXPECT_TRUE(std::isnan(float(bfloat16_t(f32_from_bits(0x7f800001u)))));
  EXPECT_TRUE(std::isnan(float(bfloat16_t(f32_from_bits(0xffffffffu)))));
  // Subnormals share float's exponent range.
  EXPECT_EQ(bf16_bits(std::ldexp(1.0f, -130)), 0x0008);
  EXPECT_EQ(float(bfloat16_t::from_bits(0x0001)), std::ldexp(1.0f, -133));
  EXPECT_EQ(float(bfloat16_t(3)), 3.0f);
  EXPECT_EQ(float(bfloat16_t(0.15625)), 0.15625f);
}

TEST(BFloat16, EveryBitPatternRoundTrips) {
  for (uint32_t b = 0; b < 0x10000; ++b) {
    bfloat16_t h = bfloat16_t::from_bits(static_cast<uint16_t>(b));
    float f = h;
    bool is_nan = (b & 0x7f80) == 0x7f80 && (b & 0x007f) != 0;
    if (is_nan) {
      ASSERT_TRUE(std::isnan(f)) << std::hex << b;
      ASSERT_TRUE(std::isnan(float(bfloat16_t(f)))) << std::hex << b;
    } else {
      ASSERT_EQ(bfloat16_t(f).bits, b) << std::hex << b << " -> " << f;
    }
  }
}
