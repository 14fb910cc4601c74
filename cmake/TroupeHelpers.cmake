# Shared build settings and the module helper.

add_library(troupe_warnings INTERFACE)
target_compile_options(troupe_warnings INTERFACE
  $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wpedantic -Wno-unused-parameter>)
if(TROUPE_NATIVE)
  target_compile_options(troupe_warnings INTERFACE $<$<COMPILE_LANGUAGE:CXX>:-march=native>)
endif()

if(TROUPE_SANITIZE STREQUAL "address")
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
elseif(TROUPE_SANITIZE STREQUAL "thread")
  add_compile_options(-fsanitize=thread -fno-omit-frame-pointer)
  add_link_options(-fsanitize=thread)
elseif(NOT TROUPE_SANITIZE STREQUAL "")
  message(FATAL_ERROR "TROUPE_SANITIZE must be '', 'address' or 'thread'")
endif()

# troupe_add_module(NAME [DEPS targets...] [PRIVATE_DEPS targets...])
# Builds troupe_NAME (alias troupe::NAME) from NAME/src/**/*.cpp with public headers in
# NAME/include. Sources are globbed so that adding a file never touches a CMakeLists.
function(troupe_add_module name)
  cmake_parse_arguments(M "" "" "DEPS;PRIVATE_DEPS" ${ARGN})
  file(GLOB_RECURSE _src CONFIGURE_DEPENDS
    ${CMAKE_CURRENT_SOURCE_DIR}/src/*.cpp)
  if(_src)
    add_library(troupe_${name} ${_src})
    set_target_properties(troupe_${name} PROPERTIES OUTPUT_NAME troupe_${name})
    target_include_directories(troupe_${name}
      PUBLIC $<BUILD_INTERFACE:${CMAKE_CURRENT_SOURCE_DIR}/include> $<INSTALL_INTERFACE:include>
      PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/src)
    target_link_libraries(troupe_${name} PUBLIC ${M_DEPS}
      PRIVATE ${M_PRIVATE_DEPS} $<BUILD_INTERFACE:troupe_warnings>)
  else()
    # A module with headers only so far.
    add_library(troupe_${name} INTERFACE)
    target_include_directories(troupe_${name}
      INTERFACE $<BUILD_INTERFACE:${CMAKE_CURRENT_SOURCE_DIR}/include> $<INSTALL_INTERFACE:include>)
    target_link_libraries(troupe_${name} INTERFACE ${M_DEPS})
  endif()
  add_library(troupe::${name} ALIAS troupe_${name})
  set_target_properties(troupe_${name} PROPERTIES EXPORT_NAME ${name})
  set_property(GLOBAL APPEND PROPERTY TROUPE_MODULES troupe_${name})
endfunction()
