/**
 * Route schemas compiled when a route is first used, not when the daemon starts.
 *
 * fastify compiles every route's validation schemas (ajv) and response schemas
 * (fast-json-stringify) as the app becomes ready, each GET twice (its HEAD twin too). The
 * routes with schemas are the control API's, which no index page or download uses, and
 * compiling them was a third of the CPU between the spawn and the first answer. These
 * builders wrap fastify's own default compilers, with the options fastify gives them, so
 * what is compiled and the errors a bad request gets are the same: only the moment moves.
 *
 * The compilers themselves (ajv, fast-json-stringify: a megabyte of code, 40% of the
 * daemon's bundle) stay out of the bundle (esbuild.config.js) and are loaded from
 * node_modules with the first compilation.
 */
import { createRequire } from 'node:module';
import type AjvCompiler from '@fastify/ajv-compiler';
import type { SerializerSelector } from '@fastify/fast-json-stringify-compiler';

type BuildValidator = ReturnType<typeof AjvCompiler>;
type BuildSerializer = ReturnType<typeof SerializerSelector>;
type RouteValidator = ReturnType<ReturnType<BuildValidator>>;

const load = createRequire(import.meta.url);
const defaultValidatorBuilder = (): BuildValidator => (load('@fastify/ajv-compiler') as typeof AjvCompiler)();
const defaultSerializerBuilder = (): BuildSerializer => (load('@fastify/fast-json-stringify-compiler') as { SerializerSelector: typeof SerializerSelector }).SerializerSelector();

/** fastify's validator builder, compiling each route's schema at its first request. */
export function lazyValidatorBuilder(builder: () => BuildValidator = defaultValidatorBuilder): BuildValidator {
  let build: BuildValidator | undefined;
  return ((externalSchemas: Parameters<BuildValidator>[0], options: Parameters<BuildValidator>[1]) => {
    let compiler: ReturnType<BuildValidator> | undefined;
    return (route: Parameters<ReturnType<BuildValidator>>[0]) => {
      let compiled: RouteValidator | undefined;
      // fastify reads `errors` from the function it was given after a failed check: copy them over.
      const validate = function (this: unknown, data: unknown) {
        compiled ??= (compiler ??= (build ??= builder())(externalSchemas, options))(route);
        const result = (compiled as (this: unknown, data: unknown) => unknown).call(this, data);
        validate.errors = (compiled as { errors?: unknown }).errors;
        return result;
      } as ((this: unknown, data: unknown) => unknown) & { errors?: unknown };
      return validate as unknown as RouteValidator;
    };
  }) as BuildValidator;
}

/** fastify's response serializer builder, compiling each route's schema at its first answer. */
export function lazySerializerBuilder(builder: () => BuildSerializer = defaultSerializerBuilder): BuildSerializer {
  let build: BuildSerializer | undefined;
  return (externalSchemas, options) => {
    let compiler: ReturnType<BuildSerializer> | undefined;
    return (route) => {
      let compiled: ((doc: unknown) => string) | undefined;
      return (doc: unknown) => (compiled ??= (compiler ??= (build ??= builder())(externalSchemas, options))(route))(doc);
    };
  };
}
