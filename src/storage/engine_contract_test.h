// Behaviour every Engine must show, as a value-parameterized GoogleTest suite.
// An engine's test binary compiles engine_contract_test.cc and instantiates
// the suite with a factory, e.g.:
//
//   INSTANTIATE_TEST_SUITE_P(
//       Memory, EngineContractTest,
//       testing::Values(EngineFactory{"Memory", [] { return std::make_unique<MemoryEngine>(); }}),
//       EngineFactoryName);
#pragma once

#include <functional>
#include <memory>
#include <ostream>
#include <string>

#include "gtest/gtest.h"
#include "src/storage/engine.h"

namespace kv::storage {

// Makes a fresh, empty engine for one test. The engine owns whatever it
// creates (files, directories) and releases it when destroyed.
struct EngineFactory {
  std::string name;  // a valid GoogleTest name: letters, digits, underscores
  std::function<std::unique_ptr<Engine>()> make;
};

inline void PrintTo(const EngineFactory& f, std::ostream* os) { *os << f.name; }

// Names instantiated tests after the factory.
inline std::string EngineFactoryName(const testing::TestParamInfo<EngineFactory>& info) {
  return info.param.name;
}

class EngineContractTest : public testing::TestWithParam<EngineFactory> {
 protected:
  void SetUp() override {
    engine_ = GetParam().make();
    ASSERT_NE(engine_, nullptr);
  }

  std::unique_ptr<Engine> engine_;
};

}  // namespace kv::storage
