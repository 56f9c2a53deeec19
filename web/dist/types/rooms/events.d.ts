import type { EventName, Events } from './types';
export declare class RoomEvents {
    private readonly handlers;
    on<K extends EventName>(event: K, handler: Events[K]): () => void;
    has(event: EventName): boolean;
    emit(event: EventName, args: unknown[]): void;
    clear(): void;
}
