// SIGINT for the kernel without a watchdog thread per cell.
//
// Node's `breakOnSigint` starts a watchdog thread, swaps the process's SIGINT handlers and joins
// the thread again around every vm script run: ~0.06 ms per cell on an idle 2-core machine and
// over 1 ms when the machine is loaded. This addon starts ONE watcher thread and installs ONE
// SIGINT handler for the life of the process:
//
//   - the handler counts the signal, wakes the watcher and, unless a guarded call runs, calls
//     the handler it replaced (libuv's, which runs the kernel's `process.on('SIGINT')` listener:
//     that aborts a pending await through the cell's AbortSignal);
//   - `run(fn, since)` calls fn with the guard armed; if a SIGINT arrives while fn runs, the
//     watcher calls `Isolate::TerminateExecution`, `run` cancels the termination once the stack has
//     unwound to it and throws `Error('Script execution interrupted.')` — what breakOnSigint
//     throws. A SIGINT counted after `since` (the count when the cell began) but before fn
//     started also throws at once, so an interrupt that lands between the cell's start and its
//     synchronous part is not lost.
//
// Built by scripts/build-interrupt.js into build/Release/qlora_interrupt.node; the kernel falls
// back to breakOnSigint when it is missing (kernel/exec/interrupt-guard.ts).
#include <node.h>
#include <v8.h>

#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>

#include <atomic>
#include <cstdint>
#include <mutex>

namespace {

v8::Isolate* isolate = nullptr;
sem_t wake;
std::mutex mu;                  // guards armed / fired against the watcher
bool armed = false;             // run() is inside fn
bool fired = false;             // the watcher terminated fn
std::atomic<bool> armedFlag{false};  // the same, readable from the signal handler
std::atomic<uint32_t> count{0};      // SIGINTs received
struct sigaction previous;

void OnSigint(int sig, siginfo_t* info, void* context) {
  int saved = errno;
  count.fetch_add(1);
  sem_post(&wake);
  if (armedFlag.load()) {
    // The watcher breaks the running script; the handler we replaced may be Node's default
    // (reset the terminal and exit) when nobody listens, so it is not called here.
    errno = saved;
    return;
  }
  if (previous.sa_flags & SA_SIGINFO) {
    if (previous.sa_sigaction != nullptr) previous.sa_sigaction(sig, info, context);
  } else if (previous.sa_handler != SIG_DFL && previous.sa_handler != SIG_IGN) {
    previous.sa_handler(sig);
  } else if (previous.sa_handler == SIG_DFL) {
    // Nobody listens and no cell runs: the default action (the process ends), as without us.
    signal(SIGINT, SIG_DFL);
    raise(SIGINT);
  }
  errno = saved;
}

// Installs OnSigint unless it is the current handler (libuv restores SIG_DFL when the last JS
// listener goes, which would drop us).
void EnsureHandler() {
  struct sigaction current;
  sigaction(SIGINT, nullptr, &current);
  if ((current.sa_flags & SA_SIGINFO) && current.sa_sigaction == OnSigint) return;
  struct sigaction mine = {};
  mine.sa_sigaction = OnSigint;
  mine.sa_flags = SA_SIGINFO | SA_RESTART;
  sigfillset(&mine.sa_mask);
  sigaction(SIGINT, &mine, &previous);
}

void* Watch(void*) {
  for (;;) {
    while (sem_wait(&wake) != 0 && errno == EINTR) {
    }
    std::lock_guard<std::mutex> lock(mu);
    if (armed && !fired) {
      fired = true;
      isolate->TerminateExecution();
    }
  }
  return nullptr;
}

void Throw(v8::Isolate* iso) {
  v8::Local<v8::String> text =
      v8::String::NewFromUtf8(iso, "Script execution interrupted.").ToLocalChecked();
  iso->ThrowException(v8::Exception::Error(text));
}

// run(fn, since): fn() with SIGINT breaking it; `since` is count() when the cell began.
void Run(const v8::FunctionCallbackInfo<v8::Value>& args) {
  v8::Isolate* iso = args.GetIsolate();
  v8::Local<v8::Context> context = iso->GetCurrentContext();
  if (args.Length() < 2 || !args[0]->IsFunction() || !args[1]->IsUint32()) {
    iso->ThrowException(v8::Exception::TypeError(
        v8::String::NewFromUtf8(iso, "run(fn, since): fn must be a function and since a count").ToLocalChecked()));
    return;
  }
  v8::Local<v8::Function> fn = args[0].As<v8::Function>();
  uint32_t since = args[1].As<v8::Uint32>()->Value();
  bool outer;
  {
    std::lock_guard<std::mutex> lock(mu);
    outer = !armed;
    if (outer) {
      if (count.load() != since) {
        Throw(iso);
        return;
      }
      armed = true;
      fired = false;
      armedFlag.store(true);
    }
  }
  if (outer) EnsureHandler();
  bool terminated = false;
  {
    v8::TryCatch tryCatch(iso);
    v8::MaybeLocal<v8::Value> result = fn->Call(context, v8::Undefined(iso), 0, nullptr);
    if (outer) {
      std::lock_guard<std::mutex> lock(mu);
      armed = false;
      armedFlag.store(false);
      terminated = fired;
      fired = false;
    }
    if (terminated) {
      // Also clears a termination requested just after fn returned, before it took effect.
      iso->CancelTerminateExecution();
    } else if (tryCatch.HasCaught()) {
      if (!tryCatch.HasTerminated()) tryCatch.ReThrow();  // an outer run() owns a termination
      return;
    } else {
      args.GetReturnValue().Set(result.ToLocalChecked());
      return;
    }
  }
  Throw(iso);  // outside the TryCatch, which would swallow it
}

void OtherThread(const v8::FunctionCallbackInfo<v8::Value>& args) {
  v8::Isolate* iso = args.GetIsolate();
  iso->ThrowException(v8::Exception::Error(
      v8::String::NewFromUtf8(iso, "qlora_interrupt works on the thread that loaded it first only").ToLocalChecked()));
}

void Count(const v8::FunctionCallbackInfo<v8::Value>& args) {
  args.GetReturnValue().Set(count.load());
}

void Init(v8::Local<v8::Object> exports, v8::Local<v8::Value>, v8::Local<v8::Context> context) {
  v8::Isolate* iso = context->GetIsolate();
  if (isolate == nullptr) {
    isolate = iso;
    sem_init(&wake, 0, 0);
    // The watcher never runs signal handlers: block everything while it is created.
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_t thread;
    pthread_create(&thread, nullptr, Watch, nullptr);
    pthread_detach(thread);
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    EnsureHandler();
  }
  // One isolate only: the main thread of the kernel.
  NODE_SET_METHOD(exports, "run", iso == isolate ? Run : OtherThread);
  NODE_SET_METHOD(exports, "count", Count);
}

}  // namespace

NODE_MODULE_CONTEXT_AWARE(qlora_interrupt, Init)
