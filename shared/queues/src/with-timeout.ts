/**
 * `p`, or the error `onTimeout` makes once `ms` have passed (the timer is cleared either way).
 * `p` itself is not cancelled: callers use it where what `p` waits on can be abandoned.
 */
export async function withTimeout<T>(p: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(onTimeout()), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
