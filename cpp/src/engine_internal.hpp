// Private to the engine's translation units (cpp/src/engine*.cpp): the one constant several of them share.
// Not part of the public include dir: nothing outside the engine needs it.
#pragma once
#include <cstdint>
#include <limits>

namespace mmsim {

// Above any time or sequence number: the end of a streamed run, "no timer", the stream merge's starting
// minimum, and "no L3 priority limit" for a trade (allocate_trade's before_seq).
constexpr int64_t kInf = std::numeric_limits<int64_t>::max();

}  // namespace mmsim
