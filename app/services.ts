// Long-running parts as services with explicit states (dskit's services.BasicService):
// New → Starting → Running → Stopping → Terminated, or Failed. A manager drives /ready.

export type ServiceState = 'New' | 'Starting' | 'Running' | 'Stopping' | 'Terminated' | 'Failed';

export interface ServiceFns {
  /** Acquire resources (listen, connect). Throwing moves the service to Failed. */
  starting?: () => Promise<void>;
  /** Release resources. Called once, after a successful start. */
  stopping?: () => Promise<void>;
}

export class Service {
  private _state: ServiceState = 'New';
  private _failure: Error | undefined;

  constructor(
    readonly name: string,
    private readonly fns: ServiceFns,
  ) {}

  get state(): ServiceState {
    return this._state;
  }

  get failure(): Error | undefined {
    return this._failure;
  }

  async start(): Promise<void> {
    if (this._state !== 'New') throw new Error(`service ${this.name}: cannot start from state ${this._state}`);
    this._state = 'Starting';
    try {
      await this.fns.starting?.();
      this._state = 'Running';
    } catch (err) {
      this._state = 'Failed';
      this._failure = err instanceof Error ? err : new Error(String(err));
      throw this._failure;
    }
  }

  async stop(): Promise<void> {
    if (this._state !== 'Running') {
      if (this._state === 'New') this._state = 'Terminated';
      return;
    }
    this._state = 'Stopping';
    try {
      await this.fns.stopping?.();
      this._state = 'Terminated';
    } catch (err) {
      this._state = 'Failed';
      this._failure = err instanceof Error ? err : new Error(String(err));
      throw this._failure;
    }
  }
}

/** Starts services in order, stops them in reverse; ready when all run. */
export class ServiceManager {
  constructor(readonly services: readonly Service[]) {}

  async startAll(): Promise<void> {
    for (const s of this.services) {
      try {
        await s.start();
      } catch (err) {
        await this.stopAll();
        throw err;
      }
    }
  }

  async stopAll(): Promise<void> {
    for (const s of [...this.services].reverse()) {
      await s.stop().catch(() => undefined);
    }
  }

  isReady(): boolean {
    return this.services.every((s) => s.state === 'Running');
  }

  states(): Record<string, ServiceState> {
    return Object.fromEntries(this.services.map((s) => [s.name, s.state]));
  }
}
